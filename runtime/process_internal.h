/*
 * Private to the subprocess layer (process.c: spawn, reaping, signals;
 * process_io.c: communicate).
 */
#ifndef RINGO_PROCESS_INTERNAL_H
#define RINGO_PROCESS_INTERNAL_H

#include <signal.h>

#include "internal.h"

/* Not in liburing 2.3's enum: IORING_OP_WAITID came with Linux 6.7. */
#define RINGO__OP_WAITID 50

/* Tests: wait with POLL_ADD + waitid(WNOHANG) even where the kernel has
 * IORING_OP_WAITID (read when a wait is armed). */
extern bool ringo__process_force_poll;

/* Per loop, made at the first spawn, freed by a close hook. */
struct ringo__proc_state {
	ringo_loop *loop;
	struct ringo__list procs;  /* every process record not yet destroyed */
	bool waitid;               /* IORING_OP_WAITID usable (probe, not refused) */
};

enum ringo__proc_phase {
	RINGO__PROC_RUNNING,  /* watched: a wait request is in flight */
	RINGO__PROC_EXITED,   /* reaped: status valid */
	RINGO__PROC_LOST,     /* status unknown: lost_err says why (-ECHILD) */
	RINGO__PROC_DETACHED, /* the loop closed while it ran: no longer watched */
};

/* Output collected by communicate for one of stdout (1) and stderr (2). */
struct ringo__proc_acc {
	char *buf;     /* malloc'd (handed to the caller as is), or NULL */
	size_t len;    /* bytes read and not handed out yet */
	size_t cap;    /* bytes allocated; always > len when buf is set */
	bool eof;      /* the pipe reached end of file */
};

struct ringo_process {
	ringo_loop *loop;
	struct ringo__proc_state *ps;  /* NULL once the loop closed */
	struct ringo__list link;       /* on ps->procs */
	pid_t pid;
	int pidfd;                     /* -1 once reaped or lost, or if by_pid */
	bool by_pid;                   /* no pidfd (pidfd_open is ENOSYS: valgrind
	                                * 3.19 knows no pidfd calls): watched with
	                                * WAITID(P_PID), signalled with kill() */
	ringo_stream *pipes[3];        /* the caller's ends of RINGO_STDIO_PIPE pipes
	                                * (owned, freed with the record), or NULL */
	bool done[3];                  /* communicate finished with pipe i: stdin
	                                * written and closed; stdout/stderr read to
	                                * EOF and closed */
	uint8_t phase;                 /* enum ringo__proc_phase */
	bool freed;                    /* the caller gave it back: the loop's now */
	bool kill_on_close;            /* RINGO_PROCESS_KILL_ON_CLOSE */
	bool wait_poll;                /* the request in flight is POLL_ADD, not WAITID */
	uint64_t wait_ud;              /* that request's user_data; 0 = none in flight */
	siginfo_t info;                /* IORING_OP_WAITID writes the exit here */
	struct ringo_process_status status; /* valid in RINGO__PROC_EXITED */
	int lost_err;                  /* valid in RINGO__PROC_LOST */
	struct ringo__list waiters;    /* tasks in ringo_process_wait (on their stacks) */
	unsigned busy;                 /* tasks inside wait or communicate: free refuses */
	bool communicating;            /* a task is in communicate */
	size_t in_sent;                /* input bytes communicate has written */
	struct ringo__proc_acc acc[3]; /* [1] stdout, [2] stderr; [0] unused */
};

/* May suspend until p is reaped (or lost); 0, or the errors of
 * ringo_process_wait. For communicate, which holds p busy itself. */
int ringo__process_wait_exit(ringo_process *p);

#endif
