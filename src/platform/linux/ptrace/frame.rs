//! The return frame: what lets a thread that memlink stops supervising in the middle of an
//! injected system call (memlink killed) finish the call and continue exactly where it was.
//!
//! Before the first injected call, memlink writes into the injection thread's stack, below its
//! 128-byte red zone (the bytes the kernel's own signal delivery would use at that instant), an
//! `rt_sigframe` as the kernel builds one for a signal handler: the thread's original
//! registers (with the restart rewrite below), its signal mask, its own XSAVE image, and a
//! `uc_stack` the kernel ignores. Every injected call runs with `rbp` pointing at a two-word
//! chain just below that frame. The borrowed `syscall` in the vDSO is followed by
//! `leave; xor...; ret`: unsupervised, `leave` loads `rsp` from `rbp` and `ret` jumps to
//! the process's own `rt_sigreturn` sequence (`mov $15,%rax; syscall`, glibc's
//! `__restore_rt`), with `rsp` at the frame; `rt_sigreturn` then restores everything.
//!
//! Everything here is pure (bytes in, bytes out) so that the layout is tested without a
//! process; [`super::remote`] reads the inputs and writes the image.
//!
//! # References
//! Linux `arch/x86/kernel/signal_64.c` (`rt_sigreturn`, `restore_sigcontext`, the frame
//! layout of `x64_setup_rt_frame`), `arch/x86/kernel/fpu/signal.c`
//! (`check_xstate_in_sigframe`), `kernel/signal.c` (`restore_altstack`, `do_sigaltstack`),
//! `arch/x86/include/uapi/asm/sigcontext.h`.

/// The x86_64 red zone below the stack pointer, which leaf functions may use.
pub const RED_ZONE: u64 = 128;
/// `sizeof(struct rt_sigframe)` on x86_64: `pretcode` (8), `struct ucontext` (304),
/// `struct siginfo` (128).
const SIGFRAME: u64 = 8 + UCONTEXT + 128;
/// `sizeof(struct ucontext)` (kernel's, x86_64).
const UCONTEXT: u64 = 304;
/// Offsets inside `struct ucontext`.
const UC_STACK: usize = 16;
const UC_MCONTEXT: usize = 40;
const UC_SIGMASK: usize = 296;
/// `uc_flags`: `UC_FP_XSTATE | UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS`, as the kernel sets
/// them for a 64-bit frame with an XSAVE image.
const UC_FLAGS: u64 = 1 | 2 | 4;
/// An `ss_flags` mode that `do_sigaltstack` rejects with `EINVAL` (neither 0, `SS_ONSTACK` nor
/// `SS_DISABLE`); `restore_altstack` ignores every error but `EFAULT`, so the thread's
/// alternate signal stack stays as it is. No ptrace request reads a thread's sigaltstack, so
/// any valid value could replace it with a wrong one.
pub const UC_STACK_FLAGS_IGNORED: u32 = 3;
/// The signal frame's XSAVE software bytes (`struct _fpx_sw_bytes`) live at this offset of the
/// legacy FXSAVE area; the second magic word follows the XSAVE image.
const SW_BYTES: usize = 464;
/// `FP_XSTATE_MAGIC1` / `FP_XSTATE_MAGIC2`.
pub const FP_XSTATE_MAGIC1: u32 = 0x4650_5853;
/// See [`FP_XSTATE_MAGIC1`].
pub const FP_XSTATE_MAGIC2: u32 = 0x4650_5845;
/// Legacy FXSAVE area (512) + XSAVE header (64): the smallest image the kernel accepts.
pub const XSAVE_MIN: usize = 576;
/// Room memlink keeps below the chain for the data of its calls (the memfd name, the message
/// header of `recvmsg`), between the chain and the injected stack pointer.
pub const SCRATCH_ROOM: u64 = 512;

/// `mov $15,%rax; syscall` (glibc's and musl's `__restore_rt`) and `mov $15,%eax; syscall`
/// (Go's runtime): `rt_sigreturn`.
const RESTORE_RT: [&[u8]; 2] = [
    &[0x48, 0xc7, 0xc0, 0x0f, 0, 0, 0, 0x0f, 0x05],
    &[0xb8, 0x0f, 0, 0, 0, 0x0f, 0x05],
];

/// Where each part of the return frame lies, for a thread stopped with stack pointer `sp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// The chain: `[chain]` is popped into `rbp` by `leave`, `[chain + 8]` (the frame's
    /// `pretcode`) is the address `ret` jumps to. Injected calls run with `rbp = chain`.
    pub chain: u64,
    /// The `rt_sigframe` (its `pretcode` word): `rt_sigreturn` runs with `rsp = frame + 8`.
    pub frame: u64,
    /// The XSAVE image, 64-byte aligned.
    pub fpstate: u64,
    /// One past the last byte written: `sp - RED_ZONE`.
    pub top: u64,
    /// The stack pointer of injected calls, below the chain and the scratch room, so that a
    /// signal frame the kernel might build for the injected context lands below it all.
    pub call_sp: u64,
    /// The lowest address that must be mapped: the call stack pointer's own red zone and a
    /// kernel signal frame of the same size below it.
    pub lowest: u64,
}

/// The layout for stack pointer `sp` and an XSAVE image of `xsize` bytes, placed as the kernel
/// places a signal frame (`fpstate` rounded down to 64 bytes below the red zone, the frame
/// 16-byte aligned minus 8), with the chain word under it. `None` when `sp` is too low.
pub fn layout(sp: u64, xsize: usize) -> Option<Layout> {
    let top = sp.checked_sub(RED_ZONE)?;
    let fpstate = top.checked_sub(xsize as u64 + 4)? & !63;
    let frame = (fpstate.checked_sub(SIGFRAME)? & !15).checked_sub(8)?;
    let chain = frame.checked_sub(8)?;
    let call_sp = chain.checked_sub(SCRATCH_ROOM)? & !15;
    let lowest = call_sp.checked_sub(RED_ZONE + (top - chain) + 64)?;
    Some(Layout {
        chain,
        frame,
        fpstate,
        top,
        call_sp,
        lowest,
    })
}

/// The registers of a 64-bit `struct sigcontext`, in its order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct Context {
    pub r8: u64,
    pub r9: u64,
    pub r10: u64,
    pub r11: u64,
    pub r12: u64,
    pub r13: u64,
    pub r14: u64,
    pub r15: u64,
    pub rdi: u64,
    pub rsi: u64,
    pub rbp: u64,
    pub rbx: u64,
    pub rdx: u64,
    pub rax: u64,
    pub rcx: u64,
    pub rsp: u64,
    pub rip: u64,
    pub eflags: u64,
    pub cs: u16,
    pub ss: u16,
}

/// The restart codes of an interrupted system call (`rax` at the stop).
const ERESTARTSYS: i64 = -512;
const ERESTARTNOINTR: i64 = -513;
const ERESTARTNOHAND: i64 = -514;
const ERESTART_RESTARTBLOCK: i64 = -516;

/// The context the frame restores, from the registers the thread was stopped with
/// (`orig_rax`, `rax`, `rip` and the rest). `rt_sigreturn` sets `orig_rax = -1`, so the
/// kernel makes no restart decision after it: a thread stopped inside a restartable call
/// gets `rip` back on its `syscall` and `rax` = the call's number, so it issues the call
/// again. That includes `-ERESTART_RESTARTBLOCK`: `restore_sigcontext` resets the restart
/// block, so `restart_syscall` would return `EINTR`; the original call is issued again with
/// its original arguments instead (a relative sleep then starts over).
pub fn restart_context(mut c: Context, orig_rax: u64) -> Context {
    if (orig_rax as i64) >= 0 {
        match c.rax as i64 {
            ERESTARTSYS | ERESTARTNOINTR | ERESTARTNOHAND | ERESTART_RESTARTBLOCK => {
                c.rax = orig_rax;
                c.rip = c.rip.wrapping_sub(2);
            }
            _ => {}
        }
    }
    c
}

/// Checks the bytes after the borrowed `syscall`: `leave`, then only instructions that zero
/// a register (`xor r32,r32`, which touch neither memory nor the stack), then `ret`. Returns
/// the offset of `ret`. Anything else (another kernel's vDSO) is refused: an unsupervised
/// thread must reach the chain.
pub fn gadget_tail_ok(after_syscall: &[u8]) -> Option<usize> {
    let mut i = 0;
    if after_syscall.first() != Some(&0xc9) {
        return None;
    }
    i += 1;
    loop {
        match after_syscall.get(i..)? {
            [0xc3, ..] => return Some(i),
            // xor r32, r32 (31 /r, mod = 11, reg = rm)
            [0x31, m, ..] if m >> 6 == 3 && (m >> 3) & 7 == m & 7 => i += 2,
            // REX.RB xor r32, r32 (45 31 /r)
            [0x45, 0x31, m, ..] if m >> 6 == 3 && (m >> 3) & 7 == m & 7 => i += 3,
            _ => return None,
        }
        if i > 64 {
            return None;
        }
    }
}

/// Finds a `syscall` instruction (`0f 05`) in a vDSO image whose tail passes
/// [`gadget_tail_ok`]; its offset.
pub fn find_gadget(code: &[u8]) -> Option<usize> {
    memchr::memmem::find_iter(code, &[0x0f, 0x05])
        .find(|&at| gadget_tail_ok(&code[at + 2..]).is_some())
}

/// Finds an `rt_sigreturn` sequence in executable code; its offset.
pub fn find_restore_rt(code: &[u8]) -> Option<usize> {
    RESTORE_RT
        .iter()
        .filter_map(|p| memchr::memmem::find(code, p))
        .min()
}

/// Makes the image of a thread's XSAVE area (as `PTRACE_GETREGSET NT_X86_XSTATE` returns it:
/// standard format, its software bytes holding `XCR0` in their first word) into a signal
/// frame's `fpstate` of `xsize` bytes: the software bytes become the `_fpx_sw_bytes` the
/// kernel checks (`FP_XSTATE_MAGIC1`, `extended_size`, the features, `xstate_size`), and
/// `FP_XSTATE_MAGIC2` follows the image. Without them the kernel restores only the legacy
/// FP/SSE part and resets the AVX state. Returns `xsize + 4` bytes, or `None` when the
/// image is shorter than `xsize` or smaller than the minimum.
pub fn fpstate_image(regset: &[u8], xsize: usize, xfeatures: u64) -> Option<Vec<u8>> {
    if xsize < XSAVE_MIN || regset.len() < xsize {
        return None;
    }
    let mut img = regset[..xsize].to_vec();
    let sw = &mut img[SW_BYTES..SW_BYTES + 48];
    sw.fill(0);
    sw[0..4].copy_from_slice(&FP_XSTATE_MAGIC1.to_le_bytes());
    sw[4..8].copy_from_slice(&(xsize as u32 + 4).to_le_bytes());
    sw[8..16].copy_from_slice(&xfeatures.to_le_bytes());
    sw[16..20].copy_from_slice(&(xsize as u32).to_le_bytes());
    img.extend_from_slice(&FP_XSTATE_MAGIC2.to_le_bytes());
    Some(img)
}

/// `XCR0` as the ptrace XSAVE image reports it (first word of its software bytes).
pub fn xcr0_of(regset: &[u8]) -> Option<u64> {
    let w = regset.get(SW_BYTES..SW_BYTES + 8)?;
    Some(u64::from_le_bytes(w.try_into().ok()?))
}

/// `XSTATE_BV` of an XSAVE image: the components it holds.
pub fn xstate_bv(regset: &[u8]) -> Option<u64> {
    let w = regset.get(512..520)?;
    Some(u64::from_le_bytes(w.try_into().ok()?))
}

/// The bytes from `l.chain` to `l.top`: the chain, the `rt_sigframe` with context `c`, signal
/// mask `mask` and `pretcode = restore_rt`, and the `fpstate` image.
pub fn image(l: &Layout, c: &Context, mask: u64, restore_rt: u64, fpstate: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; (l.top - l.chain) as usize];
    let put = |out: &mut Vec<u8>, at: u64, v: &[u8]| {
        let o = (at - l.chain) as usize;
        out[o..o + v.len()].copy_from_slice(v);
    };
    // The word `leave` pops into rbp is irrelevant (rt_sigreturn restores rbp).
    put(&mut out, l.frame, &restore_rt.to_le_bytes());
    let uc = l.frame + 8;
    put(&mut out, uc, &UC_FLAGS.to_le_bytes());
    // uc_stack: ss_sp = 0, ss_flags = an ignored mode, ss_size = 0.
    put(
        &mut out,
        uc + UC_STACK as u64 + 8,
        &UC_STACK_FLAGS_IGNORED.to_le_bytes(),
    );
    let mc = uc + UC_MCONTEXT as u64;
    let regs = [
        c.r8, c.r9, c.r10, c.r11, c.r12, c.r13, c.r14, c.r15, c.rdi, c.rsi, c.rbp, c.rbx, c.rdx,
        c.rax, c.rcx, c.rsp, c.rip, c.eflags,
    ];
    for (i, r) in regs.iter().enumerate() {
        put(&mut out, mc + 8 * i as u64, &r.to_le_bytes());
    }
    // cs, gs, fs, ss (gs and fs are not restored on x86_64).
    put(&mut out, mc + 144, &c.cs.to_le_bytes());
    put(&mut out, mc + 150, &c.ss.to_le_bytes());
    // err, trapno, oldmask, cr2, fpstate.
    put(&mut out, mc + 168, &mask.to_le_bytes());
    put(&mut out, mc + 184, &l.fpstate.to_le_bytes());
    put(&mut out, uc + UC_SIGMASK as u64, &mask.to_le_bytes());
    put(&mut out, l.fpstate, fpstate);
    out
}

/// True when a `status` file says the thread runs with a CET user shadow stack
/// (`x86_Thread_features:` lists `shstk`): its `ret` into the chain would fault and
/// `rt_sigreturn` would look for a shadow-stack token memlink cannot make, so such a thread is
/// refused.
pub fn shadow_stack_enabled(status: &[u8]) -> bool {
    status
        .split(|&b| b == b'\n')
        .find_map(|l| l.strip_prefix(b"x86_Thread_features:"))
        .is_some_and(|rest| {
            rest.split(|b| b.is_ascii_whitespace())
                .any(|w| w == b"shstk")
        })
}

/// The refusal of a process whose thread has a CET user shadow stack.
pub fn shadow_stack_refusal(pid: u32) -> crate::error::Error {
    crate::error::Error::Refused {
        pid,
        reason: "it runs with a CET user shadow stack (x86_Thread_features: shstk): memlink \
                 cannot prepare the return path that keeps it safe should memlink die"
            .into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bytes of this kernel's vDSO around `__vdso_gettimeofday`'s fallback (objdump of
    /// the `[vdso]` mapping, Linux 6.18): `mov $0x60,%eax; syscall; leave; xor x8; ret`.
    const VDSO_6_18: &[u8] = &[
        0xb8, 0x60, 0, 0, 0, 0x0f, 0x05, 0xc9, 0x31, 0xd2, 0x31, 0xc9, 0x31, 0xf6, 0x31, 0xff,
        0x45, 0x31, 0xc0, 0x45, 0x31, 0xc9, 0x45, 0x31, 0xd2, 0x45, 0x31, 0xdb, 0xc3,
    ];

    #[test]
    fn gadget_needs_leave_then_ret() {
        assert_eq!(find_gadget(VDSO_6_18), Some(5));
        assert_eq!(gadget_tail_ok(&VDSO_6_18[7..]), Some(21));
        // __vdso_clock_getres's fallback: syscall; xor...; ret (no leave): refused.
        let no_leave = [0x0f, 0x05, 0x31, 0xd2, 0xc3];
        assert_eq!(find_gadget(&no_leave), None);
        // clock_gettime's: syscall; lea -0x10(%rbp),%rsp; ...: refused.
        let lea = [0x0f, 0x05, 0x48, 0x8d, 0x65, 0xf0, 0x5b, 0xc3];
        assert_eq!(find_gadget(&lea), None);
        // xor of two different registers is not a plain zeroing: refused.
        assert_eq!(gadget_tail_ok(&[0xc9, 0x31, 0xd1, 0xc3]), None);
        assert_eq!(gadget_tail_ok(&[0xc9, 0xc3]), Some(1));
        assert_eq!(gadget_tail_ok(&[0xc9]), None);
    }

    #[test]
    fn restore_rt_patterns() {
        let glibc = [0x90, 0x48, 0xc7, 0xc0, 0x0f, 0, 0, 0, 0x0f, 0x05, 0x90];
        assert_eq!(find_restore_rt(&glibc), Some(1));
        let go = [0xcc, 0xb8, 0x0f, 0, 0, 0, 0x0f, 0x05];
        assert_eq!(find_restore_rt(&go), Some(1));
        // mov $14 (rt_sigprocmask) is not it.
        assert_eq!(find_restore_rt(&[0xb8, 0x0e, 0, 0, 0, 0x0f, 0x05]), None);
    }

    #[test]
    fn layout_matches_the_kernel_placement() {
        let sp = 0x7ffc_0000_1238;
        let l = layout(sp, 832).unwrap();
        assert_eq!(l.top, sp - 128);
        assert_eq!(l.fpstate % 64, 0);
        assert!(l.fpstate + 832 + 4 <= l.top);
        // rt_sigreturn runs with rsp = frame + 8 = chain + 16, 16-byte aligned as after a
        // handler's `ret`.
        assert_eq!((l.frame + 8) % 16, 0);
        assert_eq!(l.chain + 8, l.frame);
        assert!(l.frame + SIGFRAME <= l.fpstate);
        assert!(l.call_sp + SCRATCH_ROOM <= l.chain + 15);
        assert_eq!(l.call_sp % 16, 0);
        assert!(l.lowest < l.call_sp - RED_ZONE);
        assert_eq!(layout(100, 832), None);
    }

    #[test]
    fn frame_image_fields() {
        let l = layout(0x7ffc_0000_2000, 832).unwrap();
        let c = Context {
            rip: 0x401000,
            rsp: 0x7ffc_0000_2000,
            rax: 7,
            rbp: 0x55,
            r8: 8,
            eflags: 0x246,
            cs: 0x33,
            ss: 0x2b,
            ..Context::default()
        };
        let fp = fpstate_image(&vec![0xaa; 1024], 832, 7).unwrap();
        let img = image(&l, &c, 0x800, 0x7f00_0000_1234, &fp);
        assert_eq!(img.len() as u64, l.top - l.chain);
        let word = |at: u64| {
            let o = (at - l.chain) as usize;
            u64::from_le_bytes(img[o..o + 8].try_into().unwrap())
        };
        assert_eq!(word(l.chain + 8), 0x7f00_0000_1234);
        let uc = l.frame + 8;
        assert_eq!(word(uc), UC_FLAGS);
        assert_eq!(word(uc + 24) as u32, UC_STACK_FLAGS_IGNORED);
        let mc = uc + 40;
        assert_eq!(word(mc), 8);
        assert_eq!(word(mc + 80), 0x55); // rbp
        assert_eq!(word(mc + 104), 7); // rax
        assert_eq!(word(mc + 120), 0x7ffc_0000_2000); // rsp
        assert_eq!(word(mc + 128), 0x401000); // rip
        assert_eq!(word(mc + 136), 0x246); // eflags
        assert_eq!(word(mc + 144) & 0xffff, 0x33);
        assert_eq!((word(mc + 144) >> 48) & 0xffff, 0x2b);
        assert_eq!(word(mc + 184), l.fpstate);
        assert_eq!(word(uc + 296), 0x800);
        let sw = l.fpstate + 464;
        assert_eq!(word(sw) as u32, FP_XSTATE_MAGIC1);
        assert_eq!((word(sw) >> 32) as u32, 836);
        assert_eq!(word(sw + 8), 7);
        assert_eq!(word(sw + 16) as u32, 832);
        let o = (l.fpstate + 832 - l.chain) as usize;
        assert_eq!(&img[o..o + 4], &FP_XSTATE_MAGIC2.to_le_bytes());
        assert_eq!(img[(l.fpstate - l.chain) as usize], 0xaa);
    }

    #[test]
    fn restart_rewrite() {
        let c = |rax: i64, rip| Context {
            rax: rax as u64,
            rip,
            ..Context::default()
        };
        // read interrupted: issued again.
        let r = restart_context(c(-512, 0x1002), 0);
        assert_eq!((r.rax, r.rip), (0, 0x1000));
        // clock_nanosleep (-ERESTART_RESTARTBLOCK): the call itself, not restart_syscall.
        let r = restart_context(c(-516, 0x1002), 230);
        assert_eq!((r.rax, r.rip), (230, 0x1000));
        // epoll_wait's EINTR and user space: unchanged.
        assert_eq!(restart_context(c(-4, 0x1002), 232), c(-4, 0x1002));
        assert_eq!(restart_context(c(-512, 0x1002), u64::MAX), c(-512, 0x1002));
        assert_eq!(restart_context(c(-515, 0x1002), 0).rip, 0x1002);
    }

    #[test]
    fn fpstate_needs_room() {
        assert!(fpstate_image(&[0; 512], 576, 3).is_none());
        assert!(fpstate_image(&[0; 600], 512, 3).is_none());
        assert_eq!(fpstate_image(&[0; 600], 576, 3).unwrap().len(), 580);
    }

    #[test]
    fn shadow_stack_from_status() {
        // The lines as Linux 6.6+ with CONFIG_X86_USER_SHADOW_STACK writes them
        // (`arch_proc_pid_thread_features`); this machine's kernel has no such line.
        let on =
            b"Name:\tx\nx86_Thread_features:\tshstk wrss\nx86_Thread_features_locked:\tshstk\n";
        assert!(shadow_stack_enabled(on));
        let off = b"Name:\tx\nx86_Thread_features:\t\nx86_Thread_features_locked:\tshstk\n";
        assert!(!shadow_stack_enabled(off));
        // A kernel without the feature has no such line.
        assert!(!shadow_stack_enabled(b"Name:\tx\nSeccomp:\t0\n"));
    }
}
