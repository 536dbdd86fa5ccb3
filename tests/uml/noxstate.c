// SPDX-License-Identifier: GPL-2.0
/*
 * noxstate.so: an LD_PRELOAD shim that lets Debian 12's linux.uml (6.1) run
 * on hosts with AVX-512 or AMX.
 *
 * UML 6.1 saves the registers of its guest processes with PTRACE_GETREGSET
 * NT_X86_XSTATE into a fixed struct _xstate of 832 bytes (x87, SSE, AVX).
 * A host whose XSAVE area is larger takes the short read, then refuses the
 * short write back: "userspace - ptrace set fp regs failed, errno = 14", and
 * the guest's init is killed.  Refusing that one request makes UML believe
 * the host has no XSAVE support and fall back to PTRACE_GETFPREGS and
 * SETFPREGS (x87 and SSE state), which work everywhere.  UML then keeps only
 * those registers of a guest process across a trap, so uml-run also tells
 * glibc in the guest (GLIBC_TUNABLES on the UML command line, which the
 * kernel hands to init) to use no AVX.  tests/uml/uml-run preloads this shim
 * on such hosts.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <stdarg.h>
#include <sys/ptrace.h>
#include <sys/types.h>

typedef long (*ptrace_fn)(enum __ptrace_request, pid_t, void *, void *);

long ptrace(enum __ptrace_request request, ...)
{
	static ptrace_fn real;
	void *addr, *data;
	va_list ap;
	pid_t pid;

	va_start(ap, request);
	pid = va_arg(ap, pid_t);
	addr = va_arg(ap, void *);
	data = va_arg(ap, void *);
	va_end(ap);

	if (request == PTRACE_GETREGSET && (unsigned long)addr == NT_X86_XSTATE) {
		errno = EIO;
		return -1;
	}
	if (!real)
		real = (ptrace_fn)dlsym(RTLD_NEXT, "ptrace");
	if (!real) {
		errno = ENOSYS;
		return -1;
	}
	return real(request, pid, addr, data);
}
