// SPDX-License-Identifier: GPL-2.0
/*
 * dmdev - device-mapper operations on libdevmapper (see dmdev.h).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "dmdev.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libdevmapper.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* libdevmapper's log levels (syslog's), and the flag bits it ORs in. */
#define DMLOG_LEVEL_MASK 0x7
#define DMLOG_ERR 3

static int verbose;
static char last_error[512];
static char kernel_error[512];

static void dm_logger(int level, const char *file, int line, int dm_errno,
		      const char *f, ...)
	__attribute__((format(printf, 5, 6)));

static void dm_logger(int level, const char *file, int line, int dm_errno,
		      const char *f, ...)
{
	int lvl = level & DMLOG_LEVEL_MASK;
	va_list ap;

	(void)file;
	(void)line;
	(void)dm_errno;
	if (lvl <= DMLOG_ERR) {
		va_start(ap, f);
		vsnprintf(last_error, sizeof(last_error), f, ap);
		va_end(ap);
	}
	if ((lvl <= DMLOG_ERR && verbose >= 1) || verbose >= 2) {
		fputs("libdevmapper: ", stderr);
		va_start(ap, f);
		vfprintf(stderr, f, ap);
		va_end(ap);
		fputc('\n', stderr);
	}
}

/* Before every operation: our logger, literal names, a clean last error. */
static void dm_setup(void)
{
	dm_log_with_errno_init(dm_logger);
	dm_set_name_mangling_mode(DM_STRING_MANGLING_NONE);
	last_error[0] = '\0';
	kernel_error[0] = '\0';
}

/*
 * The kernel says why it refused a table only in its log. Open /dev/kmsg at
 * its end before a task; after a failure, keep the last "device-mapper:
 * table:" message that appeared meanwhile (e.g. "umlcow: Invalid bitmap
 * offset (-EINVAL)"). Best effort: without /dev/kmsg there is no message.
 */
static int kmsg_open(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd >= 0 && lseek(fd, 0, SEEK_END) < 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

static void kmsg_collect(int fd)
{
	static const char tag[] = "device-mapper: table: ";
	char rec[1024];

	for (;;) {
		ssize_t n = read(fd, rec, sizeof(rec) - 1);
		char *msg, *end, *p;

		if (n < 0 && errno == EPIPE)
			continue;	/* records were overwritten: go on */
		if (n <= 0)
			break;
		rec[n] = '\0';
		/* "prio,seq,usec,flags;text\n" and continuation lines */
		msg = strchr(rec, ';');
		if (!msg)
			continue;
		msg++;
		end = strchr(msg, '\n');
		if (end)
			*end = '\0';
		if (strncmp(msg, tag, sizeof(tag) - 1))
			continue;
		msg += sizeof(tag) - 1;
		/* Drop the "MAJ:MIN: " of the device. */
		p = strchr(msg, ' ');
		if (p && p > msg && p[-1] == ':' && strchr(msg, ':') < p - 1)
			msg = p + 1;
		snprintf(kernel_error, sizeof(kernel_error), "%s", msg);
	}
}

void dmdev_set_verbose(int level)
{
	verbose = level;
}

const char *dmdev_last_error(void)
{
	return last_error;
}

const char *dmdev_kernel_error(void)
{
	return kernel_error;
}

int dmdev_check_name(const char *name, const char **why)
{
	const char *reason = NULL;
	size_t len = strlen(name);

	if (len == 0)
		reason = "the name is empty";
	else if (len >= DM_NAME_LEN)
		reason = "the name is longer than device-mapper allows (127 bytes)";
	else if (strchr(name, '/'))
		reason = "the name contains '/'";
	else if (!strcmp(name, ".") || !strcmp(name, ".."))
		reason = "the name cannot be '.' or '..'";
	else if (!strcmp(name, "control"))
		reason = "'control' is the name of the device-mapper control node";
	else
		for (const unsigned char *p = (const unsigned char *)name; *p; p++)
			if (iscntrl(*p) || isspace(*p)) {
				reason = "the name contains whitespace or a control character";
				break;
			}
	if (why)
		*why = reason;
	return reason ? -EINVAL : 0;
}

/*
 * Why dm_task_create() failed: it fails when it cannot talk to the kernel
 * driver, which is -ENODEV when the kernel has no device-mapper at all.
 */
static int no_task(void)
{
	char line[128];
	bool dm = false;
	FILE *f = fopen("/proc/misc", "re");

	if (!f)
		return -ENODEV;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, " device-mapper"))
			dm = true;
	fclose(f);
	return dm ? -ENOMEM : -ENODEV;
}

/* The errno of a failed task: the ioctl's, else a generic one. */
static int task_errno(struct dm_task *dmt, int fallback)
{
	int err = dm_task_get_errno(dmt);

	return err > 0 ? -err : -fallback;
}

/* Set a cookie so that dm_udev_wait() can wait for (or make) the node. */
static int set_cookie(struct dm_task *dmt, uint32_t *cookie)
{
	uint16_t flags = 0;

	/* Where udev runs and syncs, let it alone make the nodes. */
	if (dm_udev_get_sync_support())
		flags |= DM_UDEV_DISABLE_LIBRARY_FALLBACK;
	*cookie = 0;
	return dm_task_set_cookie(dmt, cookie, flags) ? 0 : -ENOMEM;
}

/* 1 when device @name exists, 0 when not, or a negative errno. */
static int exists(const char *name)
{
	struct dm_task *dmt;
	struct dm_info info;
	int ret;

	dmt = dm_task_create(DM_DEVICE_INFO);
	if (!dmt)
		return no_task();
	if (!dm_task_set_name(dmt, name) || !dm_task_run(dmt))
		ret = task_errno(dmt, ENODEV);
	else if (!dm_task_get_info(dmt, &info))
		ret = -EIO;
	else
		ret = info.exists ? 1 : 0;
	dm_task_destroy(dmt);
	return ret;
}

int dmdev_exists(const char *name)
{
	dm_setup();
	return exists(name);
}

int dmdev_create_table(const char *name, const char *uuid, bool read_only,
		       const struct dmdev_target *t, size_t n,
		       char *node, size_t node_len)
{
	struct dm_task *dmt;
	uint32_t cookie = 0;
	bool cookie_set = false;
	int err = -ENOMEM, kmsg;

	dm_setup();
	err = dmdev_check_name(name, NULL);
	if (err)
		return err;
	if (strncmp(uuid, DMDEV_UUID_PREFIX, strlen(DMDEV_UUID_PREFIX)) ||
	    strlen(uuid) >= DM_UUID_LEN)
		return -EINVAL;
	/* The create ioctl's EBUSY does not reach dm_task_get_errno(). */
	err = exists(name);
	if (err)
		return err > 0 ? -EEXIST : err;

	err = -ENOMEM;
	dmt = dm_task_create(DM_DEVICE_CREATE);
	if (!dmt)
		return no_task();
	if (!dm_task_set_name(dmt, name) || !dm_task_set_uuid(dmt, uuid))
		goto out;
	if (read_only && !dm_task_set_ro(dmt))
		goto out;
	for (size_t i = 0; i < n; i++)
		if (!dm_task_add_target(dmt, t[i].start, t[i].len, t[i].type,
					t[i].params))
			goto out;
	err = set_cookie(dmt, &cookie);
	if (err)
		goto out;
	cookie_set = true;

	kmsg = kmsg_open();
	if (dm_task_run(dmt)) {
		err = 0;
	} else {
		if (kmsg >= 0)
			kmsg_collect(kmsg);
		err = task_errno(dmt, EINVAL);
		if (err == -EBUSY || exists(name) == 1)
			err = -EEXIST;	/* the name or the UUID is in use */
	}
	if (kmsg >= 0)
		close(kmsg);
out:
	/* Always: releases the cookie, and makes the node without udev. */
	if (cookie_set)
		dm_udev_wait(cookie);
	dm_task_destroy(dmt);
	if (!err && node)
		snprintf(node, node_len, "%s/%s", DMDEV_DIR, name);
	return err;
}

int dmdev_remove(const char *name, bool deferred)
{
	struct dm_task *dmt;
	uint32_t cookie = 0;
	bool cookie_set = false;
	int err = -ENOMEM;

	dm_setup();
	dmt = dm_task_create(DM_DEVICE_REMOVE);
	if (!dmt)
		return no_task();
	if (!dm_task_set_name(dmt, name))
		goto out;
	/*
	 * Deferred: the kernel removes it when its last opener closes it.
	 * Else retry a while when something (udev, blkid) has it open briefly.
	 */
	if (deferred ? !dm_task_deferred_remove(dmt) :
		       !dm_task_retry_remove(dmt))
		goto out;
	err = set_cookie(dmt, &cookie);
	if (err)
		goto out;
	cookie_set = true;
	err = dm_task_run(dmt) ? 0 : task_errno(dmt, EIO);
out:
	if (cookie_set)
		dm_udev_wait(cookie);
	dm_task_destroy(dmt);
	return err;
}

void dmdev_free(struct dmdev *dev)
{
	free(dev->table);
	free(dev->status);
	dev->table = NULL;
	dev->status = NULL;
}

void dmdev_free_list(struct dmdev *devs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		dmdev_free(&devs[i]);
	free(devs);
}

/* Run a TABLE or STATUS task for @name; fill @dev's first target. */
static int query(int task, const char *name, struct dmdev *dev)
{
	struct dm_task *dmt;
	struct dm_info info;
	uint64_t start = 0, length = 0;
	char *type = NULL, *params = NULL;
	void *next;
	const char *uuid;
	char *copy;
	int err = -ENOMEM;

	dmt = dm_task_create(task);
	if (!dmt)
		return no_task();
	if (!dm_task_set_name(dmt, name))
		goto out;
	if (task == DM_DEVICE_STATUS && !dm_task_no_flush(dmt))
		goto out;
	if (!dm_task_run(dmt)) {
		err = task_errno(dmt, EIO);
		goto out;
	}
	if (!dm_task_get_info(dmt, &info)) {
		err = -EIO;
		goto out;
	}
	if (!info.exists) {
		err = -ENXIO;
		goto out;
	}
	snprintf(dev->name, sizeof(dev->name), "%s", name);
	uuid = dm_task_get_uuid(dmt);
	snprintf(dev->uuid, sizeof(dev->uuid), "%s", uuid ? uuid : "");
	dev->major = info.major;
	dev->minor = info.minor;
	dev->read_only = info.read_only;
	dev->suspended = info.suspended;
	dev->open_count = info.open_count;
	dev->deferred_remove = info.deferred_remove;
	dev->target_count = info.target_count;

	next = dm_get_next_target(dmt, NULL, &start, &length, &type, &params);
	copy = strdup(params ? params : "");
	if (!copy)
		goto out;
	if (task == DM_DEVICE_TABLE) {
		uint64_t s2, l2;
		char *t2, *p2;

		dev->dev_len = start + length;
		while (next) {
			next = dm_get_next_target(dmt, next, &s2, &l2, &t2,
						  &p2);
			dev->dev_len = s2 + l2;
		}
		dev->start = start;
		dev->len = length;
		snprintf(dev->type, sizeof(dev->type), "%s", type ? type : "");
		free(dev->table);
		dev->table = copy;
	} else {
		free(dev->status);
		dev->status = copy;
	}
	err = 0;
out:
	dm_task_destroy(dmt);
	return err;
}

int dmdev_get(const char *name, struct dmdev *dev)
{
	int err;

	dm_setup();
	memset(dev, 0, sizeof(*dev));
	err = query(DM_DEVICE_TABLE, name, dev);
	if (!err)
		err = query(DM_DEVICE_STATUS, name, dev);
	if (err) {
		dmdev_free(dev);
		return err;
	}
	return 0;
}

static int cmp_dev(const void *a, const void *b)
{
	return strcmp(((const struct dmdev *)a)->name,
		      ((const struct dmdev *)b)->name);
}

int dmdev_list(const char *type, struct dmdev **devs, size_t *n)
{
	struct dm_task *dmt;
	struct dm_names *names;
	struct dmdev *out = NULL;
	size_t count = 0;
	int err = -ENOMEM;

	*devs = NULL;
	*n = 0;
	dm_setup();
	dmt = dm_task_create(DM_DEVICE_LIST);
	if (!dmt)
		return no_task();
	if (!dm_task_run(dmt)) {
		err = task_errno(dmt, ENODEV);
		goto out;
	}
	names = dm_task_get_names(dmt);
	err = 0;
	if (!names || !names->dev)
		goto out;	/* no devices at all */

	for (;;) {
		struct dmdev dev, *grown;
		int qerr;

		memset(&dev, 0, sizeof(dev));
		qerr = query(DM_DEVICE_TABLE, names->name, &dev);
		if (!qerr && dev.target_count >= 1 && !strcmp(dev.type, type))
			qerr = query(DM_DEVICE_STATUS, names->name, &dev);
		else if (!qerr)
			qerr = 1;	/* not ours: skip */
		if (qerr == -ENXIO || qerr == 1) {
			/* Gone since the list was taken, or not ours. */
			dmdev_free(&dev);
		} else if (qerr) {
			dmdev_free(&dev);
			err = qerr;
			break;
		} else {
			grown = realloc(out, (count + 1) * sizeof(*out));
			if (!grown) {
				dmdev_free(&dev);
				err = -ENOMEM;
				break;
			}
			out = grown;
			out[count++] = dev;
		}
		if (!names->next)
			break;
		names = (struct dm_names *)((char *)names + names->next);
	}
out:
	dm_task_destroy(dmt);
	if (err) {
		dmdev_free_list(out, count);
		return err;
	}
	if (count > 1)
		qsort(out, count, sizeof(*out), cmp_dev);
	*devs = out;
	*n = count;
	return 0;
}

int dmdev_has_target(const char *type)
{
	struct dm_task *dmt;
	struct dm_versions *v, *last;
	int ret = 0;

	dm_setup();
	dmt = dm_task_create(DM_DEVICE_LIST_VERSIONS);
	if (!dmt)
		return no_task();
	if (!dm_task_run(dmt)) {
		ret = task_errno(dmt, ENODEV);
		goto out;
	}
	v = dm_task_get_versions(dmt);
	do {
		last = v;
		if (!strcmp(v->name, type)) {
			ret = 1;
			break;
		}
		v = (struct dm_versions *)((char *)v + v->next);
	} while (last != v);
out:
	dm_task_destroy(dmt);
	return ret;
}

int dmdev_message(const char *name, const char *msg, char *reply,
		  size_t reply_len)
{
	struct dm_task *dmt;
	const char *r;
	int err = -ENOMEM;

	if (reply_len)
		reply[0] = '\0';
	dm_setup();
	dmt = dm_task_create(DM_DEVICE_TARGET_MSG);
	if (!dmt)
		return no_task();
	if (!dm_task_set_name(dmt, name) || !dm_task_set_sector(dmt, 0) ||
	    !dm_task_set_message(dmt, msg))
		goto out;
	if (!dm_task_run(dmt)) {
		err = task_errno(dmt, EIO);
		goto out;
	}
	r = dm_task_get_message_response(dmt);
	if (r && reply_len)
		snprintf(reply, reply_len, "%s", r);
	err = 0;
out:
	dm_task_destroy(dmt);
	return err;
}
