// SPDX-License-Identifier: GPL-2.0 OR MIT
// memlink leaks: the probes of exact mode (uprobes/uretprobes on the allocator's entry points)
// and of growth mode (raw tracepoints on sys_enter/sys_exit for the calls that grow or shrink
// the address space), plus the exec watch both modes share.
// Built with `bpf/build.sh` (Debian 12 clang-14, `-O2 -g -target bpf`); the object is committed
// beside this file with the hash of the sources and the compiler version it was built from.
//
// No vmlinux.h and no libbpf headers: uprobes need only the user registers (`struct pt_regs` as
// the x86-64 uapi lays it out), the syscall tracepoints a pointer to the same structure, and a
// handful of helpers, declared below by their stable numbers.

typedef unsigned char __u8;
typedef unsigned int __u32;
typedef unsigned long long __u64;
typedef long long __s64;

struct pt_regs {
	__u64 r15, r14, r13, r12, bp, bx, r11, r10, r9, r8;
	__u64 ax, cx, dx, si, di, orig_ax, ip, cs, flags, sp, ss;
};

#define SEC(name) __attribute__((section(name), used))
#define __uint(name, val) int(*name)[val]
#define __type(name, val) typeof(val) *name

static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;
static long (*bpf_map_update_elem)(void *map, const void *key, const void *value, __u64 flags) = (void *)2;
static long (*bpf_map_delete_elem)(void *map, const void *key) = (void *)3;
static __u64 (*bpf_get_current_pid_tgid)(void) = (void *)14;
static long (*bpf_probe_read_user)(void *dst, __u32 size, const void *unsafe_ptr) = (void *)112;
static long (*bpf_probe_read_kernel)(void *dst, __u32 size, const void *unsafe_ptr) = (void *)113;
static void *(*bpf_ringbuf_reserve)(void *ringbuf, __u64 size, __u64 flags) = (void *)131;
static void (*bpf_ringbuf_submit)(void *data, __u64 flags) = (void *)132;
static __u64 (*bpf_ktime_get_ns)(void) = (void *)5;
struct bpf_pidns_info {
	__u32 pid;
	__u32 tgid;
};
static long (*bpf_get_ns_current_pid_tgid)(__u64 dev, __u64 ino, struct bpf_pidns_info *nsdata, __u32 size) = (void *)120;

#define BPF_MAP_TYPE_HASH 1
#define BPF_MAP_TYPE_ARRAY 2
#define BPF_MAP_TYPE_PERCPU_ARRAY 6
#define BPF_MAP_TYPE_RINGBUF 27

// Must match src/platform/linux/bpf/events.rs.
#define STACK_BYTES 8192
#define EV_ENTER 1
#define EV_RETURN 2
#define EV_FREE 3
#define EV_SYS_ENTER 4
#define EV_SYS_EXIT 5
#define EV_EXEC 6

// x86-64 system call numbers.
#define NR_MMAP 9
#define NR_MPROTECT 10
#define NR_MUNMAP 11
#define NR_BRK 12
#define NR_MREMAP 25
#define NR_CLONE 56
#define NR_FORK 57
#define NR_VFORK 58
#define NR_CLONE3 435
#define CLONE_THREAD 0x10000

#define FN_MALLOC 1
#define FN_CALLOC 2
#define FN_REALLOC 3
#define FN_MEMALIGN 4
#define FN_POSIX_MEMALIGN 5

struct config {
	__u32 tgid;
	__u32 _pad;
	// Allocations of at least this many bytes always carry their stack; smaller ones carry it
	// when the sampler says so (userspace decides the rate; 0 = every allocation).
	__u64 sample_bytes;
	__u64 seed;
	// memlink's PID namespace (st_dev and st_ino of /proc/self/ns/pid): PIDs are compared
	// as memlink sees them.
	__u64 ns_dev;
	__u64 ns_ino;
	// 1: growth mode (memory calls reported with their stacks); 0: exact mode (only the
	// target's new processes are reported by the syscall programs).
	__u64 growth;
};

// A system call's entry, with its arguments; `stack_len` bytes of the user stack follow when
// the call can grow memory.
struct sys_head {
	__u32 kind;
	__u32 tid;
	__u64 time_ns;
	__u32 nr;
	__u32 stack_len;
	__u64 args[5];
	__u64 ip, sp, bp;
};

struct sys_event {
	struct sys_head h;
	__u8 stack[STACK_BYTES];
};

// An allocator entry; `stack_len` bytes of the user stack from `sp` follow when sampled.
struct enter_head {
	__u32 kind;
	__u32 tid;
	__u64 time_ns;
	__u32 func;
	__u32 stack_len;
	__u64 size;
	__u64 old_ptr;
	__u64 ip, sp, bp;
};

struct enter_event {
	struct enter_head h;
	__u8 stack[STACK_BYTES];
};

struct small_event {
	__u32 kind;
	__u32 tid;
	__u64 time_ns;
	__u64 addr;
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 32 << 20);
} EVENTS SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct config);
} CONFIG SEC(".maps");

// Index 0: enter events dropped, 1: return events dropped, 2: free events dropped,
// 3: system call events dropped.
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} DROPS SEC(".maps");

// posix_memalign's out-pointer, from entry to return, by thread.
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u64);
} MEMPTR SEC(".maps");

// The calls in flight whose return is reported, by thread (the value is the call's number).
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u32);
} INFLIGHT SEC(".maps");

// Per-thread xorshift state of the sampler, by thread.
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u64);
} RNG SEC(".maps");

// The sampling thresholds: THRESH[i] is p(i) * 2^32 for sizes in bucket i of sample_bytes / 64.
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u32);
} THRESH SEC(".maps");

static __attribute__((always_inline)) void drop(__u32 which)
{
	__u64 *n = bpf_map_lookup_elem(&DROPS, &which);
	if (n)
		__sync_fetch_and_add(n, 1);
}

static __attribute__((always_inline)) struct config *mine(void)
{
	__u32 zero = 0;
	struct config *c = bpf_map_lookup_elem(&CONFIG, &zero);
	if (!c)
		return 0;
	struct bpf_pidns_info ns = {};
	if (bpf_get_ns_current_pid_tgid(c->ns_dev, c->ns_ino, &ns, sizeof(ns)))
		return 0;
	if (ns.tgid != c->tgid)
		return 0;
	return c;
}

// Whether an allocation of `size` carries its stack.
static __attribute__((always_inline)) int sampled(struct config *c, __u64 size)
{
	if (c->sample_bytes == 0 || size >= c->sample_bytes)
		return 1;
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u64 *st = bpf_map_lookup_elem(&RNG, &tid);
	__u64 x;
	if (st)
		x = *st;
	else
		x = c->seed ^ ((__u64)tid * 0x9E3779B97F4A7C15ULL);
	if (x == 0)
		x = 0x2545F4914F6CDD1DULL;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	bpf_map_update_elem(&RNG, &tid, &x, 0);
	__u32 bucket = (__u32)((size * 64) / c->sample_bytes);
	if (bucket > 63)
		bucket = 63;
	__u32 *t = bpf_map_lookup_elem(&THRESH, &bucket);
	if (!t)
		return 0;
	return (__u32)(x >> 32) < *t;
}

// Copies the top of the user stack from `sp`; returns the bytes copied, or u32 max when nothing
// was readable.
static __attribute__((always_inline)) __u32 copy_stack(__u8 *dst, void *sp)
{
	// bpf_probe_read_user zero-fills the whole buffer on any fault, so a read past the top of
	// a shallow stack gives nothing: try shorter reads until one fits.
	__u32 len = 0;
	if (bpf_probe_read_user(dst, STACK_BYTES, sp) == 0)
		len = STACK_BYTES;
	else if (bpf_probe_read_user(dst, 4096, sp) == 0)
		len = 4096;
	else if (bpf_probe_read_user(dst, 2048, sp) == 0)
		len = 2048;
	else if (bpf_probe_read_user(dst, 1024, sp) == 0)
		len = 1024;
	else if (bpf_probe_read_user(dst, 512, sp) == 0)
		len = 512;
	else if (bpf_probe_read_user(dst, 128, sp) == 0)
		len = 128;
	// Nothing readable: u32 max, so the event counts with an unknown stack.
	return len ? len : 0xffffffff;
}

static __attribute__((always_inline)) void fill(struct enter_head *h, struct pt_regs *ctx, __u32 func, __u64 size, __u64 old_ptr)
{
	h->kind = EV_ENTER;
	h->tid = (__u32)bpf_get_current_pid_tgid();
	h->time_ns = bpf_ktime_get_ns();
	h->func = func;
	h->size = size;
	h->old_ptr = old_ptr;
	h->ip = ctx->ip;
	h->sp = ctx->sp;
	h->bp = ctx->bp;
	h->stack_len = 0;
}

static __attribute__((always_inline)) int enter(struct pt_regs *ctx, __u32 func, __u64 size, __u64 old_ptr)
{
	struct config *c = mine();
	if (!c)
		return 0;
	if (!sampled(c, size)) {
		struct enter_head *h = bpf_ringbuf_reserve(&EVENTS, sizeof(*h), 0);
		if (!h) {
			drop(0);
			return 0;
		}
		fill(h, ctx, func, size, old_ptr);
		bpf_ringbuf_submit(h, 0);
		return 0;
	}
	struct enter_event *e = bpf_ringbuf_reserve(&EVENTS, sizeof(*e), 0);
	if (!e) {
		drop(0);
		return 0;
	}
	fill(&e->h, ctx, func, size, old_ptr);
	e->h.stack_len = copy_stack(e->stack, (void *)ctx->sp);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

static __attribute__((always_inline)) int small(__u32 kind, __u64 addr)
{
	struct config *c = mine();
	if (!c)
		return 0;
	struct small_event *e = bpf_ringbuf_reserve(&EVENTS, sizeof(*e), 0);
	if (!e) {
		drop(kind == EV_RETURN ? 1 : 2);
		return 0;
	}
	e->kind = kind;
	e->tid = (__u32)bpf_get_current_pid_tgid();
	e->time_ns = bpf_ktime_get_ns();
	e->addr = addr;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

// malloc(size), valloc, pvalloc, jemalloc's mallocx(size, flags), operator new via malloc.
SEC("uprobe")
int malloc_enter(struct pt_regs *ctx) { return enter(ctx, FN_MALLOC, ctx->di, 0); }

// calloc(n, size)
SEC("uprobe")
int calloc_enter(struct pt_regs *ctx) { return enter(ctx, FN_CALLOC, ctx->di * ctx->si, 0); }

// realloc(ptr, size), rallocx(ptr, size, flags)
SEC("uprobe")
int realloc_enter(struct pt_regs *ctx) { return enter(ctx, FN_REALLOC, ctx->si, ctx->di); }

// reallocarray(ptr, n, size)
SEC("uprobe")
int reallocarray_enter(struct pt_regs *ctx) { return enter(ctx, FN_REALLOC, ctx->si * ctx->dx, ctx->di); }

// memalign(align, size), aligned_alloc(align, size)
SEC("uprobe")
int memalign_enter(struct pt_regs *ctx) { return enter(ctx, FN_MEMALIGN, ctx->si, 0); }

// posix_memalign(void **out, align, size): the pointer is read at return.
SEC("uprobe")
int posix_memalign_enter(struct pt_regs *ctx)
{
	struct config *c = mine();
	if (!c)
		return 0;
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u64 out = ctx->di;
	bpf_map_update_elem(&MEMPTR, &tid, &out, 0);
	return enter(ctx, FN_POSIX_MEMALIGN, ctx->dx, 0);
}

SEC("uretprobe")
int alloc_return(struct pt_regs *ctx) { return small(EV_RETURN, ctx->ax); }

SEC("uretprobe")
int posix_memalign_return(struct pt_regs *ctx)
{
	struct config *c = mine();
	if (!c)
		return 0;
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u64 *out = bpf_map_lookup_elem(&MEMPTR, &tid);
	__u64 addr = 0;
	if (out) {
		if (ctx->ax == 0)
			bpf_probe_read_user(&addr, sizeof(addr), (void *)*out);
		bpf_map_delete_elem(&MEMPTR, &tid);
	}
	return small(EV_RETURN, addr);
}

// free(ptr), cfree, dallocx(ptr, flags), sdallocx(ptr, size, flags), sized deletes via free.
SEC("uprobe")
int free_enter(struct pt_regs *ctx) { return small(EV_FREE, ctx->di); }

// Growth mode: the calls that grow or shrink the address space or the heap, with the stack at
// the call (munmap, which only shrinks, goes without). In both modes: fork, vfork and clone of
// a new process, so the report can say a child was not followed.
struct raw_args {
	__u64 args[2];
};

static __attribute__((always_inline)) void fill_sys(struct sys_head *h, struct pt_regs *regs, __u32 tid, __u64 nr)
{
	h->kind = EV_SYS_ENTER;
	h->tid = tid;
	h->time_ns = bpf_ktime_get_ns();
	h->nr = (__u32)nr;
	h->stack_len = 0;
	h->args[0] = regs->di;
	h->args[1] = regs->si;
	h->args[2] = regs->dx;
	h->args[3] = regs->r10;
	h->args[4] = regs->r8;
	h->ip = regs->ip;
	h->sp = regs->sp;
	h->bp = regs->bp;
}

SEC("raw_tp/sys_enter")
int sys_enter(struct raw_args *ctx)
{
	__u64 nr = ctx->args[1];
	int memory = nr == NR_MMAP || nr == NR_MPROTECT || nr == NR_MUNMAP || nr == NR_BRK || nr == NR_MREMAP;
	int child = nr == NR_CLONE || nr == NR_FORK || nr == NR_VFORK || nr == NR_CLONE3;
	if (!memory && !child)
		return 0;
	struct config *c = mine();
	if (!c)
		return 0;
	if (memory && !c->growth)
		return 0;
	struct pt_regs regs;
	if (bpf_probe_read_kernel(&regs, sizeof(regs), (void *)ctx->args[0]))
		return 0;
	if (nr == NR_CLONE && (regs.di & CLONE_THREAD))
		return 0;
	if (nr == NR_CLONE3) {
		__u64 flags = 0;
		if (bpf_probe_read_user(&flags, sizeof(flags), (void *)regs.di) || (flags & CLONE_THREAD))
			return 0;
	}
	// A stack is copied for the calls that can grow memory (brk(0) only asks where the break is).
	int with_stack = memory && nr != NR_MUNMAP && !(nr == NR_BRK && regs.di == 0);
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	if (with_stack) {
		struct sys_event *e = bpf_ringbuf_reserve(&EVENTS, sizeof(*e), 0);
		if (!e) {
			drop(3);
			return 0;
		}
		fill_sys(&e->h, &regs, tid, nr);
		e->h.stack_len = copy_stack(e->stack, (void *)regs.sp);
		bpf_ringbuf_submit(e, 0);
	} else {
		struct sys_head *h = bpf_ringbuf_reserve(&EVENTS, sizeof(*h), 0);
		if (!h) {
			drop(3);
			return 0;
		}
		fill_sys(h, &regs, tid, nr);
		bpf_ringbuf_submit(h, 0);
	}
	__u32 n = (__u32)nr;
	bpf_map_update_elem(&INFLIGHT, &tid, &n, 0);
	return 0;
}

SEC("raw_tp/sys_exit")
int sys_exit(struct raw_args *ctx)
{
	// Every system call of the host passes here: the cheapest test first.
	__u64 nr = 0;
	if (bpf_probe_read_kernel(&nr, sizeof(nr), (void *)(ctx->args[0] + __builtin_offsetof(struct pt_regs, orig_ax))))
		return 0;
	if (!(nr == NR_MMAP || nr == NR_MPROTECT || nr == NR_MUNMAP || nr == NR_BRK || nr == NR_MREMAP ||
	      nr == NR_CLONE || nr == NR_FORK || nr == NR_VFORK || nr == NR_CLONE3))
		return 0;
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u32 *inflight = bpf_map_lookup_elem(&INFLIGHT, &tid);
	if (!inflight)
		return 0;
	bpf_map_delete_elem(&INFLIGHT, &tid);
	struct small_event *e = bpf_ringbuf_reserve(&EVENTS, sizeof(*e), 0);
	if (!e) {
		drop(3);
		return 0;
	}
	e->kind = EV_SYS_EXIT;
	e->tid = tid;
	e->time_ns = bpf_ktime_get_ns();
	e->addr = ctx->args[1];
	bpf_ringbuf_submit(e, 0);
	return 0;
}

// The target replaced its program: its objects, and exact mode's probes, are gone.
SEC("raw_tp/sched_process_exec")
int process_exec(struct raw_args *ctx)
{
	if (!mine())
		return 0;
	struct small_event *e = bpf_ringbuf_reserve(&EVENTS, sizeof(*e), 0);
	if (!e) {
		drop(3);
		return 0;
	}
	e->kind = EV_EXEC;
	e->tid = (__u32)bpf_get_current_pid_tgid();
	e->time_ns = bpf_ktime_get_ns();
	e->addr = 0;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
