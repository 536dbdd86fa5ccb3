/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dmdev - the few device-mapper operations umlcow-setup needs, on
 * libdevmapper, done the way cryptsetup's lib/libdevmapper.c does them:
 * a udev cookie on every task that makes or removes a node and
 * dm_udev_wait() whether or not the task succeeded (with DM_DISABLE_UDEV=1,
 * or where no udev runs, libdevmapper makes the /dev/mapper nodes itself),
 * names taken literally (no mangling), status queried without flushing.
 *
 * Functions return 0 or a negative errno; dmdev_last_error() then holds
 * libdevmapper's own message when it gave one.
 */
#ifndef UMLCOW_DMDEV_H
#define UMLCOW_DMDEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/dm-ioctl.h>	/* DM_NAME_LEN, DM_UUID_LEN */

/* Every device we create has a UUID starting with this. */
#define DMDEV_UUID_PREFIX "UMLCOW-"

/* Where the device nodes live. */
#define DMDEV_DIR "/dev/mapper"

/* Log libdevmapper's messages to stderr: 0 errors kept quiet, 1 errors, 2 all. */
void dmdev_set_verbose(int level);

/*
 * libdevmapper's last error message since the last call into dmdev, or "".
 * Like dmdev_kernel_error(), it points to a buffer the next call clears.
 */
const char *dmdev_last_error(void);

/*
 * Why the kernel refused the table of the last dmdev_create(), from its log
 * ("umlcow: Invalid bitmap offset (-EINVAL)"), or "" when it said nothing.
 */
const char *dmdev_kernel_error(void);

/*
 * Whether @name can name a device: 1 to DM_NAME_LEN - 1 bytes, no '/', no
 * whitespace or control characters, not ".", ".." or "control". Returns 0,
 * or -EINVAL with *@why (if not NULL) set to a short reason.
 */
int dmdev_check_name(const char *name, const char **why);

/* 1 when device @name exists, 0 when not, or a negative errno. */
int dmdev_exists(const char *name);

/* One line of a table: "@start @len @type @params" (512-byte sectors). */
struct dmdev_target {
	uint64_t start, len;
	const char *type;
	const char *params;
};

/*
 * Create device @name with UUID @uuid (must start with DMDEV_UUID_PREFIX),
 * read-only when @read_only, and the table of the @n lines @t; wait for its
 * node. Returns 0 (@node, if not NULL, gets "/dev/mapper/NAME"), -EEXIST
 * when the name or UUID is taken, or another negative errno (-EINVAL when
 * the kernel refused the table).
 */
int dmdev_create_table(const char *name, const char *uuid, bool read_only,
		       const struct dmdev_target *t, size_t n,
		       char *node, size_t node_len);

/*
 * Remove device @name and wait for its node to go. Returns 0, -ENXIO when it
 * does not exist, -EBUSY when it is open, or another negative errno. With
 * @deferred, a device still open is removed by the kernel when its last
 * opener closes it (0 is returned; dmsetup info shows it pending).
 */
int dmdev_remove(const char *name, bool deferred);

/*
 * Send the target message @msg to sector 0 of device @name ("commit");
 * its answer, if any, goes to @reply. Returns 0 or a negative errno.
 */
int dmdev_message(const char *name, const char *msg, char *reply,
		  size_t reply_len);

/* One device as the kernel reports it. */
struct dmdev {
	char name[DM_NAME_LEN];
	char uuid[DM_UUID_LEN];
	uint32_t major, minor;
	bool read_only;
	bool suspended;
	int open_count;
	bool deferred_remove;	/* removal pending until the last close */
	int target_count;
	uint64_t dev_len;	/* of all targets, in 512-byte sectors */
	/*
	 * The first target: umlcow for our devices, which have one target,
	 * or two when a linear one maps the tail of a short v1/v2 bitmap.
	 */
	uint64_t start, len;
	char type[DM_MAX_TYPE_NAME];
	char *table;		/* its table parameters, malloc'd, never NULL */
	char *status;		/* its status (INFO) parameters, likewise */
};

/*
 * Fill @dev for device @name (table and status of its first target; the
 * status is read with no flush). Returns 0, -ENXIO when it does not exist,
 * or another negative errno. Free with dmdev_free().
 */
int dmdev_get(const char *name, struct dmdev *dev);
void dmdev_free(struct dmdev *dev);

/*
 * Every device whose first target is of type @type, sorted by name.
 * Returns 0 with *@devs (NULL when none) and *@n set, or a negative errno
 * (-ENODEV when device-mapper is not available). Free with dmdev_free_list().
 */
int dmdev_list(const char *type, struct dmdev **devs, size_t *n);
void dmdev_free_list(struct dmdev *devs, size_t n);

/*
 * Whether the kernel has target @type registered: 1 yes, 0 no, or a negative
 * errno when device-mapper cannot be asked.
 */
int dmdev_has_target(const char *type);

#endif /* UMLCOW_DMDEV_H */
