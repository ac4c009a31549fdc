//! Step `target-fd` of the share sequence: how T gets the memfd. Method A injects
//! `pidfd_open(S)` and `pidfd_getfd` in T; when T may not trace S (another user, another PID
//! namespace), method B passes the memfd over a socket pair made in T, brokered by memlink
//! with `SCM_RIGHTS`.

use crate::error::{Error, Result};
use crate::platform::linux::ptrace::remote::{self, nr};
use crate::platform::linux::ptrace::sys;

use super::super::{pid_path, proc_path};
use super::{write_remote, Share};

impl Share<'_> {
    /// Method A: `pidfd_open(S)` and `pidfd_getfd` injected in T. Needs T to be allowed to
    /// trace S, and S visible in T's PID namespace.
    pub(super) fn target_fd_pidfd(&mut self, sfd: u64) -> Result<u64> {
        let req = self.req;
        let spid_in_t = pid_as_seen_by(req.source, req.target).ok_or_else(|| Error::Refused {
            pid: req.target,
            reason: format!("process {} is not visible in its PID namespace", req.source),
        })?;
        let pidfd = self
            .call(
                self.target,
                nr::PIDFD_OPEN,
                [spid_in_t as u64, 0, 0, 0, 0, 0],
                "pidfd_open",
            )
            .map_err(pidfd_error)?;
        self.journal.target_pidfd = Some(pidfd);
        let r = self.call(
            self.target,
            nr::PIDFD_GETFD,
            [pidfd, sfd, 0, 0, 0, 0],
            "pidfd_getfd",
        );
        let _ = self.call(
            self.target,
            nr::CLOSE,
            [pidfd, 0, 0, 0, 0, 0],
            "close the pidfd",
        );
        self.journal.target_pidfd = None;
        r.map_err(pidfd_error)
    }

    /// Method B: T creates a socket pair; memlink takes one end and the memfd with its own
    /// `pidfd_getfd` and sends the memfd with `SCM_RIGHTS`; T receives it with an injected
    /// `recvmsg`. Needs only memlink's rights over both processes (works across users and PID
    /// namespaces).
    pub(super) fn target_fd_socket(&mut self, sfd: u64) -> Result<u64> {
        // The message header and buffers take 272 bytes, below T's red zone when possible.
        let scratch = match self.stack_scratch(self.target, 320) {
            Some(at) => at,
            None => self.scratch_page(self.target)?,
        };
        let [sv0, sv1] = self.socket_pair_in_target(scratch)?;
        self.send_memfd(sv1, sfd)?;
        self.receive_memfd(scratch, sv0)
    }

    /// `socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, scratch)` in T; the two fds.
    fn socket_pair_in_target(&mut self, scratch: u64) -> Result<[u64; 2]> {
        let target = self.req.target;
        self.call(
            self.target,
            nr::SOCKETPAIR,
            [1, 2 | 0x80000, 0, scratch, 0, 0],
            "socketpair",
        )?;
        let sv = remote::read_remote(target, scratch, 8)
            .map_err(|e| Error::from_errno(target, "read the memory of", e))?;
        if sv.len() != 8 {
            return Err(Error::Unmapped {
                pid: target,
                start: scratch,
                end: scratch + 8,
            });
        }
        let sv0 = i32::from_ne_bytes([sv[0], sv[1], sv[2], sv[3]]) as u64;
        let sv1 = i32::from_ne_bytes([sv[4], sv[5], sv[6], sv[7]]) as u64;
        self.journal.target_sockets = vec![sv0, sv1];
        Ok([sv0, sv1])
    }

    /// memlink takes T's end `sv1` and S's memfd with its own `pidfd_getfd` and sends the
    /// memfd over the socket.
    fn send_memfd(&self, sv1: u64, sfd: u64) -> Result<()> {
        use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags, UnixAddr};
        use std::os::fd::AsRawFd;
        let req = self.req;
        let getfd = |pid: u32, fd: u64| -> Result<std::os::fd::OwnedFd> {
            let pidfd = sys::pidfd_open(pid).map_err(|e| os(pid, "pidfd_open", e))?;
            sys::pidfd_getfd(&pidfd, fd as i32).map_err(|e| os(pid, "pidfd_getfd", e))
        };
        let sock = getfd(req.target, sv1)?;
        let memfd = getfd(req.source, sfd)?;
        let fds = [memfd.as_raw_fd()];
        sendmsg::<UnixAddr>(
            sock.as_raw_fd(),
            &[std::io::IoSlice::new(b"m")],
            &[ControlMessage::ScmRights(&fds)],
            MsgFlags::MSG_DONTWAIT,
            None,
        )
        .map_err(|e| os(req.target, "send the memfd", e.into()))?;
        Ok(())
    }

    /// T receives the memfd on `sv0` with an injected `recvmsg` (the message header built in
    /// its scratch page), then closes both sockets; the received fd.
    fn receive_memfd(&mut self, scratch: u64, sv0: u64) -> Result<u64> {
        let target = self.req.target;
        // msghdr at +64, iovec at +128, control buffer at +192, data at +256.
        let mut msg = Vec::with_capacity(200);
        let put = |v: &mut Vec<u8>, x: u64| v.extend_from_slice(&x.to_ne_bytes());
        put(&mut msg, 0); // msg_name
        put(&mut msg, 0); // msg_namelen + padding
        put(&mut msg, scratch + 128); // msg_iov
        put(&mut msg, 1); // msg_iovlen
        put(&mut msg, scratch + 192); // msg_control
        put(&mut msg, 64); // msg_controllen
        put(&mut msg, 0); // msg_flags + padding
        msg.resize(64, 0);
        put(&mut msg, scratch + 256); // iov_base
        put(&mut msg, 16); // iov_len
        msg.resize(192 - 64 + 64, 0);
        write_remote(target, scratch + 64, &msg)?;
        // recvmsg(sv0, msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT)
        self.call(
            self.target,
            nr::RECVMSG,
            [sv0, scratch + 64, 0x4000_0000 | 0x40, 0, 0, 0],
            "recvmsg",
        )?;
        let c = remote::read_remote(target, scratch + 192, 24)
            .map_err(|e| Error::from_errno(target, "read the memory of", e))?;
        let word = |r: std::ops::Range<usize>| {
            c.get(r)
                .map(|b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
        };
        let (level, kind, fd) = (word(8..12), word(12..16), word(16..20));
        let target_id = self.target;
        for fd in std::mem::take(&mut self.journal.target_sockets) {
            let _ = self.call(target_id, nr::CLOSE, [fd, 0, 0, 0, 0, 0], "close a socket");
        }
        match (level, kind, fd) {
            (Some(1), Some(1), Some(fd)) if fd >= 0 => Ok(fd as u64),
            _ => Err(Error::Refused {
                pid: target,
                reason: "the memfd did not arrive over the socket".into(),
            }),
        }
    }
}

/// Explains a failed pidfd call: ENOSYS means a kernel older than 5.6.
pub(super) fn pidfd_error(e: Error) -> Error {
    match e {
        Error::Os { op, source } if source.raw_os_error() == Some(libc::ENOSYS) => Error::Os {
            op: format!(
                "{op} (the kernel lacks pidfd_open/pidfd_getfd: Linux 5.6 or later is needed)"
            ),
            source,
        },
        Error::Os { op, source } if source.raw_os_error() == Some(libc::EPERM) => Error::Os {
            op: format!(
                "{op} (the target may not trace the source: same user or CAP_SYS_PTRACE needed)"
            ),
            source,
        },
        e => e,
    }
}

fn os(pid: u32, what: &str, e: std::io::Error) -> Error {
    Error::Os {
        op: format!("{what} of process {pid}"),
        source: e,
    }
}

/// The PID of `pid` as process `observer` sees it: the same when both live in memlink's PID
/// namespace, else the innermost `NSpid` when `pid` lives in the observer's namespace.
fn pid_as_seen_by(pid: u32, observer: u32) -> Option<u32> {
    let ns = |p: &str| std::fs::read_link(proc_path(&format!("{p}/ns/pid"))).ok();
    let obs = ns(&observer.to_string())?;
    if Some(&obs) == ns("self").as_ref() {
        return Some(pid);
    }
    if Some(&obs) == ns(&pid.to_string()).as_ref() {
        let st = std::fs::read(pid_path(pid, "status")).ok()?;
        return crate::proc::status::parse(&st).ok()?.ns_pid.last().copied();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pidfd_errors_name_the_cause() {
        let os = |errno| Error::Os {
            op: "process 5: pidfd_getfd".into(),
            source: std::io::Error::from_raw_os_error(errno),
        };
        assert!(pidfd_error(os(libc::ENOSYS))
            .to_string()
            .contains("Linux 5.6 or later"));
        assert!(pidfd_error(os(libc::EPERM))
            .to_string()
            .contains("CAP_SYS_PTRACE"));
        assert!(!pidfd_error(os(libc::EBADF)).to_string().contains("Linux"));
    }
}
