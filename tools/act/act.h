/* SPDX-License-Identifier: GPL-2.0 */
/*
 * act - activation of a UML COW file through the umlcow device-mapper
 * target: open, close, commit and the queries behind list and status.
 *
 * The layer between the CLI (which parses and prints) and the library and
 * system plumbing (lib/, sys/), as cryptsetup keeps activation in libcryptsetup
 * and its CLI only parses and prints: any front end (the CLI, the nbdkit
 * plugin's tools) calls these and decides itself how to show what they say.
 *
 * Nothing here prints. Errors come back in a struct act_err (a kind, the file
 * or device it is about, a message and a detail for --verbose); remarks on
 * the way (what was chosen, what was done) go to the caller's log function.
 *
 * The same for a mapping without the module (open --via nbd: nbdkit and the
 * kernel's nbd driver): act-nbd.h.
 */
#ifndef UMLCOW_ACT_H
#define UMLCOW_ACT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "cowfmt.h"
#include "dmdev.h"

/* The device-mapper target activated. */
#define ACT_TARGET "umlcow"

/* The UUID prefix of an nbd-backed mapping (a linear table on /dev/nbdN). */
#define ACT_NBD_UUID_PREFIX DMDEV_UUID_PREFIX "NBD-"

/*
 * What went wrong, as a script may want to tell apart (the CLI maps each
 * kind to one exit status).
 */
enum act_err_kind {
	ACT_ERR_NONE = 0,
	ACT_ERR_FAIL,		/* anything else */
	ACT_ERR_USAGE,		/* a bad option value, an ambiguous layout */
	ACT_ERR_NOT_MAPPED,	/* the operand has no mapping */
	ACT_ERR_BUSY,		/* the file or device is in use */
	ACT_ERR_NO_DM,		/* device-mapper or the target is missing */
	ACT_ERR_INTERRUPTED,	/* a signal: everything was undone */
	ACT_ERR_KINDS
};

struct act_err {
	enum act_err_kind kind;
	int signo;			/* ACT_ERR_INTERRUPTED: which signal */
	char file[COW_PATH_MAX + 1];	/* what it is about, "" for nothing */
	char msg[2 * COW_PATH_MAX + 1024];
	char detail[2048];		/* "" or more, for --verbose */
};

/* The act_err_kind of a library error (--layout's are usage errors). */
enum act_err_kind act_cow_kind(const struct cow_err *e);

/* Remarks: ACT_LOG_INFO only for --verbose, the others always. */
enum act_log_level { ACT_LOG_INFO, ACT_LOG_WARN, ACT_LOG_ERR };
typedef void (*act_log_fn)(enum act_log_level level, const char *file,
			   const char *msg);

/*
 * The plan of a mapping (cow_map_plan() in 512-byte sectors), with remarks
 * on what is not mapped as it is. 0, or -1 with @e filled.
 */
int act_plan(const struct cow_info *info, struct cow_map_plan *p,
	     const char *path, act_log_fn log, struct act_err *e);
/* Why a file whose plan has a linear tail is mapped read-only (to @log). */
void act_explain_tail(const struct cow_info *info,
		      const struct cow_map_plan *p, const char *path,
		      act_log_fn log);

struct umlcow_open_opts {
	const char *path;		/* the COW file */
	const char *name;		/* the device name, checked by the caller */
	const char *backing;		/* --backing, or NULL */
	const char *layout;		/* --layout, or NULL */
	bool force;			/* a differing backing mtime */
	bool read_only, no_discard;
	bool direct_io;			/* LO_FLAGS_DIRECT_IO on both loops */
	bool have_commit_interval;
	unsigned int commit_interval;
	/*
	 * SIGINT, SIGTERM and SIGHUP are held (blocked) while open works and
	 * looked at between its steps: one that came undoes everything done
	 * (the COW file's extension, the loop devices, the device) and
	 * open fails with ACT_ERR_INTERRUPTED, the signal taken (the caller
	 * raises it again to die of it, as it would have). A signal the
	 * process ignores stays ignored.
	 */
	act_log_fn log;			/* may be NULL */
};

struct umlcow_open_result {
	char node[DM_NAME_LEN + 16];	/* /dev/mapper/NAME */
	bool read_only;			/* mapped read-only (asked or forced) */
	bool cow_direct_io, backing_direct_io;	/* what the loops got */
};

/* Map @o->path as /dev/mapper/@o->name. 0, or -1 with @e filled. */
int umlcow_open(const struct umlcow_open_opts *o, struct umlcow_open_result *r,
		struct act_err *e);

/*
 * Every umlcow mapping (the target's, and the nbd-backed linear ones),
 * sorted by name: 0, or a negative errno. Free with dmdev_free_list().
 */
int act_list(struct dmdev **devs, size_t *n);

/* Whether @d is an nbd-backed mapping (its table type and UUID). */
bool act_is_nbd_mapping(const struct dmdev *d);
/* Whether @d is a mapping of ours, either kind. */
bool act_is_ours(const struct dmdev *d);
/* "UMLCOW-[NBD-]<dev major>:<dev minor>:<inode>-" of a COW file. */
void act_uuid_prefix(bool nbd, dev_t dev, ino_t ino, char *buf, size_t len);
/* Whether mapping @d is one of the file (@dev, @ino), by its UUID. */
bool act_of_file(const struct dmdev *d, dev_t dev, ino_t ino);
/*
 * The mappings of the file (@dev, @ino), found by the UUID open gave them:
 * how many (or a negative errno), their names in @names, each followed by
 * a newline (as many as fit).
 */
int act_mappings_of(dev_t dev, ino_t ino, char *names, size_t len);
/* "already mapped as /dev/mapper/@name" of @path into @e (busy); -1. */
int act_already_mapped(struct act_err *e, const char *path, const char *name);

/*
 * UML's lock on @fd (a write lock when @exclusive), or fill @e: busy (who
 * holds it; for a COW file (@cow) mapped already, its mapping's name).
 */
int act_lock(int fd, bool exclusive, const char *path, bool cow,
	     struct act_err *e);

/* A device-mapper error @err (negative errno) of @what into @e; -1. */
int act_dm_err(struct act_err *e, const char *what, int err);

/*
 * Whether nothing holds the device @d (/sys/block/dm-N/holders: kpartx's
 * partitions, a table on top of it): 0, or -1 with @e filled (busy). close
 * refuses a held device, deferred or not, before it tears anything down.
 */
int act_not_held(const struct dmdev *d, struct act_err *e);

/*
 * Remove the umlcow (target) mapping @name, or defer it. 0, or -1 with @e
 * filled (busy: in use; not mapped: gone).
 */
int umlcow_close(const char *name, bool deferred, struct act_err *e);

/* Ask the mapping @name to write its dirty bitmap now. 0, or -1. */
int umlcow_commit(const char *name, struct act_err *e);

#endif /* UMLCOW_ACT_H */
