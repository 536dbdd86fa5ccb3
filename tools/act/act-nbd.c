// SPDX-License-Identifier: GPL-2.0
/*
 * act-nbd.c - open --via nbd, its close, commit and leftovers (see
 * act-nbd.h).
 *
 * The plugin does what the target does and takes the same locks, so the
 * checks, the refusals and the single writer are the plugin's; this file
 * finds the plugin, starts nbdkit, connects /dev/nbdN (sys/nbddev.c) and
 * puts a linear table on it, and undoes each step when a later one fails.
 */
#include "act-nbd.h"
#include "act-int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "nbddev.h"

#define RUN_DIR "/run/umlcow"

/* ---- the plugin and nbdkit ------------------------------------------- */

/* The plugin nbdkit loads (act-nbd.h), in @buf when it is the build tree's. */
static const char *plugin_path(char *buf, size_t len)
{
	const char *env = getenv("UMLCOW_NBDKIT_PLUGIN");
	char exe[PATH_MAX];
	ssize_t n;
	char *slash;

	if (env && *env)
		return env;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			if (snprintf(buf, len, "%s/nbdkit/" ACT_NBD_PLUGIN_FILE,
				     exe) < (int)len &&
			    access(buf, R_OK) == 0)
				return buf;
		}
	}
	return "umlcow";
}

const char *act_nbdkit_prog(void)
{
	const char *env = getenv("UMLCOW_NBDKIT");

	return env && *env ? env : "nbdkit";
}

void act_nbd_arg(struct act_nbd_args *a, const char *s)
{
	if (a->n < (int)(sizeof(a->v) / sizeof(a->v[0])) - 1)
		a->v[a->n++] = (char *)s;
	a->v[a->n] = NULL;
}

/* key=value, kept until act_nbd_args_free(). */
static void argkv(struct act_nbd_args *a, const char *key, const char *value)
{
	char *s;

	if (a->nowned >= (int)(sizeof(a->owned) / sizeof(a->owned[0])) ||
	    asprintf(&s, "%s=%s", key, value) < 0)
		return;
	a->owned[a->nowned++] = s;
	act_nbd_arg(a, s);
}

void act_nbd_args_free(struct act_nbd_args *a)
{
	for (int i = 0; i < a->nowned; i++)
		free(a->owned[i]);
	a->nowned = 0;
}

void act_nbd_plugin_args(struct act_nbd_args *a, const struct act_nbd_file *f)
{
	act_nbd_arg(a, plugin_path(a->plugin, sizeof(a->plugin)));
	argkv(a, "file", f->path);
	if (f->backing)
		argkv(a, "backing", f->backing);
	if (f->force)
		act_nbd_arg(a, "force=true");
	if (f->layout)
		argkv(a, "layout", f->layout);
	if (f->read_only)
		act_nbd_arg(a, "readonly=true");
}

void act_nbd_args_line(const struct act_nbd_args *a, char *buf, size_t len)
{
	size_t at = 0;

	buf[0] = '\0';
	for (int i = 0; i < a->n && at < len; i++)
		at += (size_t)snprintf(buf + at, len - at, "%s%s",
				       i ? " " : "", a->v[i]);
}

/* ---- the runtime directory -------------------------------------------- */

static const char *run_base(void)
{
	const char *env = getenv("UMLCOW_RUN_DIR");

	return env && *env ? env : RUN_DIR;
}

static void run_path(char *buf, size_t len, const char *name,
		     const char *file)
{
	snprintf(buf, len, "%s/%s%s%s", run_base(), name, file ? "/" : "",
		 file ? file : "");
}

/* Write @text to NAME/@file (a private directory: no temp file needed). */
static int put_file(const char *name, const char *file, const char *text)
{
	char path[PATH_MAX];
	int fd;
	ssize_t r;

	run_path(path, sizeof(path), name, file);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
		  0600);
	if (fd < 0)
		return -errno;
	r = write(fd, text, strlen(text));
	close(fd);
	return r == (ssize_t)strlen(text) ? 0 : -EIO;
}

static void get_file(const char *name, const char *file, char *buf,
		     size_t len)
{
	char path[PATH_MAX];
	ssize_t r;
	int fd;

	buf[0] = '\0';
	run_path(path, sizeof(path), name, file);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return;
	r = read(fd, buf, len - 1);
	close(fd);
	buf[r > 0 ? r : 0] = '\0';
}

/* nbdkit's pid from its pid file, 0 when there is none. */
static pid_t server_pid(const char *name)
{
	char buf[32];
	long v;

	get_file(name, "pid", buf, sizeof(buf));
	v = strtol(buf, NULL, 10);
	return v > 0 && v < INT_MAX ? (pid_t)v : 0;
}

/*
 * Whether @pid runs nbdkit (not a process that reused the number) and has
 * not exited: a zombie no init has reaped yet counts as gone.
 */
static bool is_nbdkit(pid_t pid)
{
	char path[64], buf[512];
	const char *open_p, *close_p;
	ssize_t n;
	int fd;

	if (pid <= 0)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	/* "PID (COMM) STATE ...": COMM may hold ')' itself. */
	open_p = strchr(buf, '(');
	close_p = strrchr(buf, ')');
	if (!open_p || !close_p || close_p < open_p || close_p[1] != ' ')
		return false;
	return !strncmp(open_p + 1, "nbdkit)", 7) && close_p[2] != 'Z' &&
	       close_p[2] != 'X';
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/*
 * Stop nbdkit @pid (SIGTERM; its plugin writes the bitmap back as it
 * closes) and wait up to 60 s for it to go. Returns 0 when it is gone.
 */
static int stop_server(pid_t pid)
{
	if (!is_nbdkit(pid))
		return 0;
	if (kill(pid, SIGTERM) < 0)
		return errno == ESRCH ? 0 : -errno;
	for (int i = 0; i < 6000; i++) {
		if (!is_nbdkit(pid))
			return 0;
		sleep_ms(10);
	}
	return -ETIMEDOUT;
}

/* Remove NAME's runtime directory and what we put in it. */
static void remove_run_dir(const char *name, act_log_fn log)
{
	static const char *const files[] = { "socket", "pid", "cow",
					     "backing", "nbd" };
	char path[PATH_MAX];

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		run_path(path, sizeof(path), name, files[i]);
		unlink(path);
	}
	run_path(path, sizeof(path), name, NULL);
	if (rmdir(path) < 0 && errno != ENOENT)
		act_say(log, ACT_LOG_WARN, NULL, "cannot remove %s: %s", path,
			strerror(errno));
}

/* "cannot make the runtime directory" @path into @e; -1. */
static int mkdir_failed(struct act_err *e, const char *path)
{
	act_set_err(e, ACT_ERR_FAIL, path, "cannot make the runtime directory: %s",
		    strerror(errno));
	return -1;
}

/*
 * Make the private directory NAME; a stale one (no server alive in it,
 * left by a crash) is cleaned first. 0, or -1 with @e filled.
 */
static int make_run_dir(const char *name, act_log_fn log, struct act_err *e)
{
	char path[PATH_MAX];
	struct stat st;
	pid_t pid;

	snprintf(path, sizeof(path), "%s", run_base());
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return mkdir_failed(e, path);
	if (lstat(path, &st) < 0 || !S_ISDIR(st.st_mode) ||
	    st.st_uid != geteuid() || (st.st_mode & 022)) {
		act_set_err(e, ACT_ERR_FAIL, path, "not a directory of ours that only we can write to; not used");
		return -1;
	}
	run_path(path, sizeof(path), name, NULL);
	if (mkdir(path, 0700) == 0)
		return 0;
	if (errno != EEXIST)
		return mkdir_failed(e, path);
	pid = server_pid(name);
	if (is_nbdkit(pid)) {
		act_set_err(e, ACT_ERR_BUSY, path, "a server for '%s' runs already (nbdkit, pid %d); not served again",
			    name, (int)pid);
		return -1;
	}
	act_say(log, ACT_LOG_INFO, path, "removing a stale runtime directory");
	remove_run_dir(name, log);
	if (mkdir(path, 0700) < 0)
		return mkdir_failed(e, path);
	return 0;
}

/* ---- open --via nbd --------------------------------------------------- */

/* Everything open holds while it works, undone by open_undo(). */
struct open_state {
	const struct act_nbd_open_opts *o;
	const char *path, *name;
	struct act_err *e;
	char backing[PATH_MAX];		/* the backing file, resolved */
	char uuid[DM_UUID_LEN + 64];
	bool dir_made, dm_made;
	pid_t pid;			/* the server started */
	struct nbddev nd;		/* .index -1 until connected */
};

/* A file mapped already (either way) is not served a second time. */
static int open_not_mapped(struct open_state *s)
{
	char other[2 * DM_NAME_LEN];
	struct stat st;

	if (stat(s->path, &st) == 0 &&
	    act_mappings_of(st.st_dev, st.st_ino, other, sizeof(other)) > 0) {
		other[strcspn(other, "\n")] = '\0';
		return act_already_mapped(s->e, s->path, other);
	}
	return 0;
}

/*
 * The checks of the tool before the server starts, so that a refusal is
 * the tool's message: the header, the backing file and its size and mtime.
 * The plugin checks again (and locks) when it opens the files. Also the
 * mapping's UUID, from the COW file's device and inode.
 */
static int open_preflight(struct open_state *s)
{
	const struct act_nbd_file *f = &s->o->file;
	struct cow_open_opts co = { .layout = f->layout,
				    .backing = f->backing };
	struct cow_backing b = { .fd = -1 };
	struct cow_file cf = { .fd = -1 };
	struct cow_err ce;
	int ret = -1;

	if (cow_open(&cf, s->path, &co, &ce))
		return act_cow_failed(s->e, s->path, &ce);
	if (cow_backing_open(&cf, f->backing, O_RDONLY, f->force, &b, &ce)) {
		act_cow_failed(s->e, s->path, &ce);
		s->e->kind = ACT_ERR_FAIL;	/* never a usage error here */
		goto out;
	}
	if (!realpath(b.path, s->backing)) {
		size_t l = strnlen(b.path, sizeof(s->backing) - 1);

		memcpy(s->backing, b.path, l);
		s->backing[l] = '\0';
	}
	act_uuid_prefix(true, cf.dev, cf.ino, s->uuid, sizeof(s->uuid));
	if (strlen(s->uuid) + strlen(s->name) >= DM_UUID_LEN) {
		act_set_err(s->e, ACT_ERR_USAGE, s->path, "the name '%s' is too long for a device-mapper UUID",
			    s->name);
		goto out;
	}
	strcat(s->uuid, s->name);
	ret = 0;
out:
	cow_backing_close(&b);
	cow_close(&cf);
	return ret;
}

/* "a device-mapper device named NAME exists already" into @e; -1. */
static int name_taken(struct open_state *s)
{
	act_set_err(s->e, ACT_ERR_BUSY, s->path, "a device-mapper device named '%s' exists already (choose another name with --name)",
		    s->name);
	return -1;
}

/* The name must be free; then the runtime directory, with the files' paths. */
static int open_run_dir(struct open_state *s)
{
	char cow[PATH_MAX];
	int err = dmdev_exists(s->name);

	if (err > 0)
		return name_taken(s);
	if (err < 0) {
		act_set_err(s->e, ACT_ERR_NO_DM, s->path, "device-mapper is not available (is the dm-mod module loaded?)");
		return -1;
	}
	if (make_run_dir(s->name, s->o->log, s->e))
		return -1;
	s->dir_made = true;
	if (!realpath(s->path, cow))
		snprintf(cow, sizeof(cow), "%s", s->path);
	if (put_file(s->name, "cow", cow) ||
	    put_file(s->name, "backing", s->backing)) {
		act_set_err(s->e, ACT_ERR_FAIL, s->path, "cannot write into the runtime directory");
		return -1;
	}
	return 0;
}

/*
 * Run @a in a child and wait for it (nbdkit forks its server and exits).
 * Returns the child's wait status, or -1 with @e filled; an exec that
 * failed comes back through a close-on-exec pipe and is said to @log.
 */
static int run_and_wait(struct open_state *s, struct act_nbd_args *a)
{
	int pfd[2], st, err = 0;
	pid_t child;

	if (pipe2(pfd, O_CLOEXEC) < 0) {
		act_set_err(s->e, ACT_ERR_FAIL, NULL, "pipe: %s", strerror(errno));
		return -1;
	}
	/* Nothing the caller buffered may be written twice. */
	fflush(stdout);
	fflush(stderr);
	child = fork();
	if (child < 0) {
		act_set_err(s->e, ACT_ERR_FAIL, NULL, "fork: %s", strerror(errno));
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	}
	if (child == 0) {
		/* nbdkit's messages before it detaches go to our stderr. */
		int fd = open("/dev/null", O_RDWR);

		if (fd >= 0)
			dup2(fd, STDOUT_FILENO);
		execvp(a->v[0], a->v);
		err = errno;
		if (write(pfd[1], &err, sizeof(err)) < 0)
			_exit(126);
		_exit(127);
	}
	close(pfd[1]);
	while (waitpid(child, &st, 0) < 0 && errno == EINTR)
		;
	if (read(pfd[0], &err, sizeof(err)) == (ssize_t)sizeof(err))
		act_say(s->o->log, ACT_LOG_ERR, NULL, "cannot run %s: %s",
			a->v[0], strerror(err));
	close(pfd[0]);
	return st;
}

/* Start nbdkit in the background on NAME/socket. */
static int open_start_server(struct open_state *s)
{
	const struct act_nbd_open_opts *o = s->o;
	struct act_nbd_args a = { .n = 0 };
	char sock[PATH_MAX], pidf[PATH_MAX], line[4096];
	int st, ret = -1;

	run_path(sock, sizeof(sock), s->name, "socket");
	run_path(pidf, sizeof(pidf), s->name, "pid");
	act_nbd_arg(&a, act_nbdkit_prog());
	if (o->file.read_only)
		act_nbd_arg(&a, "-r");
	act_nbd_arg(&a, "-U");
	act_nbd_arg(&a, sock);
	act_nbd_arg(&a, "-P");
	act_nbd_arg(&a, pidf);
	act_nbd_plugin_args(&a, &o->file);
	act_nbd_args_line(&a, line, sizeof(line));
	act_say(o->log, ACT_LOG_INFO, NULL, "running: %s", line);
	st = run_and_wait(s, &a);
	if (st < 0)
		goto out;
	if (!WIFEXITED(st) || WEXITSTATUS(st)) {
		act_set_err(s->e, ACT_ERR_FAIL, s->path, "the nbdkit server did not start; not mapped");
		goto out;
	}
	/* nbdkit writes its pid file after it has forked: wait for it. */
	for (int i = 0; i < 500; i++) {
		s->pid = server_pid(s->name);
		if (s->pid)
			break;
		sleep_ms(10);
	}
	if (!s->pid) {
		act_set_err(s->e, ACT_ERR_FAIL, pidf, "nbdkit wrote no pid file; not mapped");
		goto out;
	}
	act_say(o->log, ACT_LOG_INFO, s->path, "served by nbdkit, pid %d",
		(int)s->pid);
	ret = 0;
out:
	act_nbd_args_free(&a);
	return ret;
}

/* Connect /dev/nbdN to the server, and note which for an interrupted open. */
static int open_connect(struct open_state *s)
{
	char sock[PATH_MAX], line[64];
	const char *why = "";
	int err;

	run_path(sock, sizeof(sock), s->name, "socket");
	err = nbddev_connect(sock, s->o->no_discard, &s->nd, &why);
	if (err) {
		act_set_err(s->e, ACT_ERR_FAIL, s->path, "%s: %s", why,
			    strerror(-err));
		return -1;
	}
	act_say(s->o->log, ACT_LOG_INFO, s->path, "connected to /dev/nbd%d (%d connection%s)",
		s->nd.index, s->nd.connections,
		s->nd.connections == 1 ? "" : "s");
	/* For close after an interrupted open: which device, by whom. */
	snprintf(line, sizeof(line), "%d %d\n", s->nd.index, (int)getpid());
	if (put_file(s->name, "nbd", line))
		act_say(s->o->log, ACT_LOG_WARN, s->path, "cannot write into the runtime directory");
	return 0;
}

/* The linear table on /dev/nbdN. */
static int open_create(struct open_state *s, struct act_nbd_open_result *r)
{
	const struct nbddev *nd = &s->nd;
	bool ro = s->o->file.read_only || nd->read_only;
	struct dmdev_target t;
	char table[64];
	int err;

	if (nd->read_only && !s->o->file.read_only)
		act_say(s->o->log, ACT_LOG_WARN, s->path, "the server serves it read-only; mapped read-only");
	snprintf(table, sizeof(table), "%u:%u 0", major(nd->rdev),
		 minor(nd->rdev));
	t = (struct dmdev_target){ 0, nd->size / 512, "linear", table };
	act_say(s->o->log, ACT_LOG_INFO, s->path, "table: 0 %" PRIu64 " linear %s",
		t.len, table);
	err = dmdev_create_table(s->name, s->uuid, ro, &t, 1, r->node,
				 sizeof(r->node));
	if (err == -EEXIST)
		return name_taken(s);
	if (err) {
		act_set_err(s->e, ACT_ERR_FAIL, s->path, "cannot create device '%s': %s",
			    s->name, dmdev_last_error()[0] ?
			    dmdev_last_error() : strerror(-err));
		return -1;
	}
	s->dm_made = true;
	return 0;
}

/* After a failure: each step undone, the last first. */
static void open_undo(struct open_state *s)
{
	if (s->dm_made)
		dmdev_remove(s->name, false);
	if (s->nd.index >= 0)
		nbddev_disconnect(s->nd.index);
	if (s->pid && stop_server(s->pid))
		act_say(s->o->log, ACT_LOG_WARN, s->path, "nbdkit (pid %d) did not stop",
			(int)s->pid);
	if (s->dir_made)
		remove_run_dir(s->name, s->o->log);
}

int act_nbd_open(const struct act_nbd_open_opts *o,
		 struct act_nbd_open_result *r, struct act_err *e)
{
	struct open_state *s = calloc(1, sizeof(*s));
	int ret;

	memset(r, 0, sizeof(*r));
	act_set_err(e, ACT_ERR_NONE, NULL, "%s", "");
	if (!s) {
		act_set_err(e, ACT_ERR_FAIL, o->file.path, "out of memory");
		return -1;
	}
	s->o = o;
	s->path = o->file.path;
	s->name = o->name;
	s->e = e;
	s->nd.index = -1;

	ret = open_not_mapped(s);
	if (!ret)
		ret = open_preflight(s);
	if (!ret)
		ret = open_run_dir(s);
	if (!ret)
		ret = open_start_server(s);
	if (!ret)
		ret = open_connect(s);
	if (!ret)
		ret = open_create(s, r);
	if (ret)
		open_undo(s);
	free(s);
	return ret ? -1 : 0;
}

/* ---- close, commit, status -------------------------------------------- */

/* /dev/nbdN of the mapping's table ("43:M 0"), -1 when not found. */
static int table_nbd(const struct dmdev *d)
{
	unsigned int ma, mi;

	if (sscanf(d->table, "%u:%u", &ma, &mi) != 2)
		return -1;
	return nbddev_index(makedev(ma, mi));
}

/* Disconnect /dev/nbd@idx of mapping @name; a failure is a warning. */
static void disconnect_nbd(const char *name, int idx, act_log_fn log)
{
	int err = nbddev_disconnect(idx);

	if (err)
		act_say(log, ACT_LOG_WARN, name, "cannot disconnect /dev/nbd%d: %s",
			idx, strerror(-err));
	else
		act_say(log, ACT_LOG_INFO, name, "disconnected /dev/nbd%d", idx);
}

/* Stop the server @pid of mapping @name: 0, or -1 with @e filled. */
static int stop_or_fail(const char *name, pid_t pid, struct act_err *e)
{
	int err = stop_server(pid);

	if (err) {
		act_set_err(e, ACT_ERR_FAIL, name, "nbdkit (pid %d) did not stop: %s; the runtime directory is kept",
			    (int)pid, strerror(-err));
		return -1;
	}
	return 0;
}

int act_nbd_close(const struct dmdev *d, act_log_fn log, struct act_err *e)
{
	char name[DM_NAME_LEN];
	int idx = table_nbd(d), err;
	pid_t pid;

	snprintf(name, sizeof(name), "%s", d->name);
	pid = server_pid(name);
	/*
	 * Open now: refuse at once (libdevmapper would retry the removal for
	 * seconds first). One opened after this look is refused by the kernel.
	 */
	err = d->open_count > 0 ? -EBUSY : dmdev_remove(name, false);
	if (err == -EBUSY) {
		act_set_err(e, ACT_ERR_BUSY, name, "the device is in use (mounted or open); close it first");
		return -1;
	}
	if (err && err != -ENXIO) {
		act_set_err(e, ACT_ERR_FAIL, name, "cannot remove the device: %s",
			    dmdev_last_error()[0] ? dmdev_last_error() :
			    strerror(-err));
		return -1;
	}
	act_say(log, ACT_LOG_INFO, name, "removed");
	if (idx >= 0)
		disconnect_nbd(name, idx, log);
	if (pid) {
		if (stop_or_fail(name, pid, e))
			return -1;
		act_say(log, ACT_LOG_INFO, name, "nbdkit (pid %d) stopped",
			(int)pid);
	}
	remove_run_dir(name, log);
	return 0;
}

bool act_nbd_leftover(const char *name)
{
	char path[PATH_MAX];
	struct stat st;

	run_path(path, sizeof(path), name, NULL);
	return lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/*
 * Whether /dev/nbd@index is still the connection umlcow-setup @pid made:
 * the kernel shows the connecting task in /sys/block/nbdN/pid while the
 * device is connected (a device connected since by someone else shows
 * another pid).
 */
static bool nbd_still_ours(int index, int pid)
{
	char path[64];
	int now = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/block/nbd%d/pid", index);
	f = fopen(path, "re");
	if (!f)
		return false;
	if (fscanf(f, "%d", &now) != 1)
		now = 0;
	fclose(f);
	return now == pid;
}

int act_nbd_close_leftover(const char *name, act_log_fn log,
			   struct act_err *e)
{
	char buf[64];
	int index, pid;
	pid_t server;

	get_file(name, "nbd", buf, sizeof(buf));
	if (sscanf(buf, "%d %d", &index, &pid) == 2 &&
	    nbd_still_ours(index, pid))
		disconnect_nbd(name, index, log);
	server = server_pid(name);
	if (server && stop_or_fail(name, server, e))
		return -1;
	remove_run_dir(name, log);
	act_say(log, ACT_LOG_WARN, name, "no mapping, but what an interrupted 'open --via nbd' left: its server and runtime directory are removed");
	return 0;
}

int act_nbd_commit(const char *name, act_log_fn log, struct act_err *e)
{
	char node[DM_NAME_LEN + 16];
	int fd, ret = 0;

	snprintf(node, sizeof(node), "%s/%s", DMDEV_DIR, name);
	fd = open(node, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0) {
		act_set_err(e, ACT_ERR_FAIL, name, "commit failed: %s",
			    strerror(errno));
		ret = -1;
	} else {
		act_say(log, ACT_LOG_INFO, name, "flushed: the server wrote the bitmap");
	}
	if (fd >= 0)
		close(fd);
	return ret;
}

void act_nbd_mapping_get(const struct dmdev *d, struct act_nbd_mapping *m)
{
	int idx = table_nbd(d);

	memset(m, 0, sizeof(*m));
	m->dev = d;
	get_file(d->name, "cow", m->cow_file, sizeof(m->cow_file));
	get_file(d->name, "backing", m->backing_file,
		 sizeof(m->backing_file));
	run_path(m->socket, sizeof(m->socket), d->name, "socket");
	if (idx >= 0)
		snprintf(m->nbd_dev, sizeof(m->nbd_dev), "/dev/nbd%d", idx);
	else
		sscanf(d->table, "%31s", m->nbd_dev);
	m->pid = server_pid(d->name);
	m->running = is_nbdkit(m->pid);
	m->read_only = d->read_only;
}
