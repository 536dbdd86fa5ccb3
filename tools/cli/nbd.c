// SPDX-License-Identifier: GPL-2.0
/*
 * nbd.c - serve, and open --via nbd: the COW file served by the nbdkit
 * plugin, for NBD clients or through the kernel's nbd driver (see nbd.h).
 *
 * The plugin does what the target does and takes the same locks, so the
 * checks, the refusals and the single writer are the plugin's; this file
 * finds the plugin, starts nbdkit, connects /dev/nbdN (sys/nbddev.c) and
 * puts a linear table on it, and undoes each step when a later one fails.
 */
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

#include "cli.h"
#include "dmdev.h"
#include "json.h"
#include "nbd.h"
#include "nbddev.h"

#define PLUGIN_FILE "nbdkit-umlcow-plugin.so"
#define RUN_DIR "/run/umlcow"

/* ---- the plugin and nbdkit ------------------------------------------- */

/*
 * The plugin nbdkit loads: $UMLCOW_NBDKIT_PLUGIN; else the build tree's,
 * nbdkit/nbdkit-umlcow-plugin.so next to this program (tools/umlcow-setup
 * and tools/nbdkit/); else "umlcow", which nbdkit finds in its plugin
 * directory (pkg-config --variable=plugindir nbdkit) once installed.
 */
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
			if (snprintf(buf, len, "%s/nbdkit/" PLUGIN_FILE,
				     exe) < (int)len &&
			    access(buf, R_OK) == 0)
				return buf;
		}
	}
	return "umlcow";
}

/* nbdkit itself: $UMLCOW_NBDKIT, else nbdkit from $PATH. */
static const char *nbdkit_prog(void)
{
	const char *env = getenv("UMLCOW_NBDKIT");

	return env && *env ? env : "nbdkit";
}

/* A growing argv. */
struct args {
	char *v[64];
	int n;
	char *owned[8];
	int nowned;
};

static void arg(struct args *a, const char *s)
{
	if (a->n < (int)(sizeof(a->v) / sizeof(a->v[0])) - 1)
		a->v[a->n++] = (char *)s;
	a->v[a->n] = NULL;
}

/* key=value, kept until args_free(). */
static void argkv(struct args *a, const char *key, const char *value)
{
	char *s;

	if (a->nowned >= (int)(sizeof(a->owned) / sizeof(a->owned[0])) ||
	    asprintf(&s, "%s=%s", key, value) < 0)
		return;
	a->owned[a->nowned++] = s;
	arg(a, s);
}

static void args_free(struct args *a)
{
	for (int i = 0; i < a->nowned; i++)
		free(a->owned[i]);
}

/* The plugin and its parameters, from the COW options. */
static void plugin_args(struct args *a, const struct cli_opts *o,
			const char *path, bool read_only, char *pbuf,
			size_t plen)
{
	arg(a, plugin_path(pbuf, plen));
	argkv(a, "file", path);
	if (o->backing)
		argkv(a, "backing", o->backing);
	if (o->force)
		arg(a, "force=true");
	if (o->layout)
		argkv(a, "layout", o->layout);
	if (read_only)
		arg(a, "readonly=true");
}

static void show_cmd(const struct args *a)
{
	char line[4096];
	size_t at = 0;

	if (!cli_verbose)
		return;
	line[0] = '\0';
	for (int i = 0; i < a->n && at < sizeof(line); i++)
		at += (size_t)snprintf(line + at, sizeof(line) - at, "%s%s",
				       i ? " " : "", a->v[i]);
	cli_info(NULL, "running: %s", line);
}

/* ---- serve ------------------------------------------------------------ */

const struct cli_help cmd_serve_help = {
	"Usage: " PROG " serve [OPTIONS] (--socket PATH | --port N) FILE.cow\n"
	"           [-- NBDKIT-OPTIONS...]\n"
	"\n"
	"Serve a UML COW file (with its backing file) over NBD with nbdkit and the\n"
	"umlcow plugin, in the foreground until SIGTERM or SIGINT: for QEMU\n"
	"(-drive file=nbd+unix:///?socket=PATH) and other NBD clients, without\n"
	"the kernel module. Words after -- go to nbdkit before the plugin: its TLS\n"
	"options (nbdkit-tls(1)), -i ADDR, --run CMD (nbdkit-captive(1)), ...\n"
	"\n",
	OPT_SERVE | OPT_READ_ONLY | OPT_COW,
	(const struct cli_note[]){
		{ "read-only", "serve read-only (nbdkit -r) and take only a\nread lock on the COW file" },
		{ NULL, NULL },
	},
	"\n"
	"The plugin takes UML's locks: a second server, a mapping, or a UML running\n"
	"on the file refuse each other. The plugin is $UMLCOW_NBDKIT_PLUGIN if set,\n"
	"else nbdkit/" PLUGIN_FILE " next to this program (a build\n"
	"tree), else nbdkit's installed 'umlcow' plugin; nbdkit is $UMLCOW_NBDKIT or\n"
	"nbdkit from $PATH.\n",
};

/* argv[0..argc) without the words from the first "--" on. */
static int split_dashdash(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			return i;
		if (cli_option_takes_next(argv[i]))
			i++;
	}
	return argc;
}

int cmd_serve(int argc, char **argv)
{
	struct cli_opts o;
	struct args a = { .n = 0 };
	char pbuf[PATH_MAX];
	int cut = split_dashdash(argc, argv);

	CLI_PARSE(cut, argv, &cmd_serve_help, 1, 1, &o);
	if (!o.socket == !o.port)
		return cli_usage_error(argv[0], "give one of --socket PATH and --port N");
	arg(&a, nbdkit_prog());
	arg(&a, "-f");
	if (o.socket) {
		arg(&a, "-U");
		arg(&a, o.socket);
	} else {
		arg(&a, "-p");
		arg(&a, o.port);
	}
	if (o.read_only)
		arg(&a, "-r");
	for (int i = cut + 1; i < argc; i++)
		arg(&a, argv[i]);
	plugin_args(&a, &o, o.args[0], o.read_only, pbuf, sizeof(pbuf));
	show_cmd(&a);
	fflush(stdout);
	execvp(a.v[0], a.v);
	cli_err(NULL, "cannot run %s: %s", a.v[0], strerror(errno));
	args_free(&a);
	return EXIT_FAIL;
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
static void remove_run_dir(const char *name)
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
		cli_warn(NULL, "cannot remove %s: %s", path, strerror(errno));
}

/*
 * Make the private directory NAME; a stale one (no server alive in it,
 * left by a crash) is cleaned first. Returns 0 or an exit status.
 */
static int make_run_dir(const char *name)
{
	char path[PATH_MAX];
	struct stat st;
	pid_t pid;

	snprintf(path, sizeof(path), "%s", run_base());
	if (mkdir(path, 0755) < 0 && errno != EEXIST) {
		cli_err(path, "cannot make the runtime directory: %s",
			strerror(errno));
		return EXIT_FAIL;
	}
	if (lstat(path, &st) < 0 || !S_ISDIR(st.st_mode) ||
	    st.st_uid != geteuid() || (st.st_mode & 022)) {
		cli_err(path, "not a directory of ours that only we can write to; not used");
		return EXIT_FAIL;
	}
	run_path(path, sizeof(path), name, NULL);
	if (mkdir(path, 0700) == 0)
		return 0;
	if (errno != EEXIST) {
		cli_err(path, "cannot make the runtime directory: %s",
			strerror(errno));
		return EXIT_FAIL;
	}
	pid = server_pid(name);
	if (is_nbdkit(pid)) {
		cli_err(path, "a server for '%s' runs already (nbdkit, pid %d); not served again",
			name, (int)pid);
		return EXIT_BUSY;
	}
	cli_info(path, "removing a stale runtime directory");
	remove_run_dir(name);
	if (mkdir(path, 0700) < 0) {
		cli_err(path, "cannot make the runtime directory: %s",
			strerror(errno));
		return EXIT_FAIL;
	}
	return 0;
}

/* ---- open --via nbd --------------------------------------------------- */

/*
 * The checks of the tool before the server starts, so that a refusal is
 * the tool's message: the header, the backing file and its size and mtime.
 * The plugin checks again (and locks) when it opens the files.
 */
static int preflight(const struct cli_opts *o, const char *path,
		     char *backing, size_t blen, struct cow_file *cf)
{
	struct cow_open_opts co = { .layout = o->layout,
				    .backing = o->backing };
	struct cow_backing b = { .fd = -1 };
	struct cow_err e;
	int ret = EXIT_FAIL;

	if (cow_open(cf, path, &co, &e)) {
		cli_cow_err(path, &e);
		return cli_exit_status(act_cow_kind(&e));
	}
	if (cow_backing_open(cf, o->backing, O_RDONLY, o->force, &b, &e)) {
		cli_cow_err(path, &e);
		goto out;
	}
	if (!realpath(b.path, backing)) {
		size_t l = strnlen(b.path, blen - 1);

		memcpy(backing, b.path, l);
		backing[l] = '\0';
	}
	ret = 0;
out:
	cow_backing_close(&b);
	return ret;
}

/* Start nbdkit in the background on NAME/socket; 0 or an exit status. */
static int start_server(const struct cli_opts *o, const char *path,
			const char *name, pid_t *pid)
{
	struct args a = { .n = 0 };
	char sock[PATH_MAX], pidf[PATH_MAX], pbuf[PATH_MAX];
	int st, ret = EXIT_FAIL;
	pid_t child;

	run_path(sock, sizeof(sock), name, "socket");
	run_path(pidf, sizeof(pidf), name, "pid");
	arg(&a, nbdkit_prog());
	if (o->read_only)
		arg(&a, "-r");
	arg(&a, "-U");
	arg(&a, sock);
	arg(&a, "-P");
	arg(&a, pidf);
	plugin_args(&a, o, path, o->read_only, pbuf, sizeof(pbuf));
	show_cmd(&a);
	fflush(stdout);
	fflush(stderr);
	child = fork();
	if (child < 0) {
		cli_err(NULL, "fork: %s", strerror(errno));
		goto out;
	}
	if (child == 0) {
		/* nbdkit's messages before it detaches go to our stderr. */
		int fd = open("/dev/null", O_RDWR);

		if (fd >= 0)
			dup2(fd, STDOUT_FILENO);
		execvp(a.v[0], a.v);
		fprintf(stderr, PROG ": cannot run %s: %s\n", a.v[0],
			strerror(errno));
		_exit(127);
	}
	while (waitpid(child, &st, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(st) || WEXITSTATUS(st)) {
		cli_err(path, "the nbdkit server did not start; not mapped");
		goto out;
	}
	/* nbdkit writes its pid file after it has forked: wait for it. */
	for (int i = 0; i < 500; i++) {
		*pid = server_pid(name);
		if (*pid)
			break;
		sleep_ms(10);
	}
	if (!*pid) {
		cli_err(pidf, "nbdkit wrote no pid file; not mapped");
		goto out;
	}
	ret = 0;
out:
	args_free(&a);
	return ret;
}

int nbd_open(const struct cli_opts *o, const char *path, const char *name)
{
	char backing[PATH_MAX], cow[PATH_MAX], sock[PATH_MAX];
	char uuid[DM_UUID_LEN + 64], table[64], node[DM_NAME_LEN + 16];
	struct cow_file cf = { .fd = -1 };
	struct dmdev_target t;
	struct nbddev nd = { .index = -1 };
	const char *why = "";
	bool dm_made = false, dir_made = false, ro;
	pid_t pid = 0;
	int err, ret;

	ret = preflight(o, path, backing, sizeof(backing), &cf);
	if (ret)
		goto out;
	if (!realpath(path, cow))
		snprintf(cow, sizeof(cow), "%s", path);
	act_uuid_prefix(true, cf.dev, cf.ino, uuid, sizeof(uuid));
	if (strlen(uuid) + strlen(name) >= DM_UUID_LEN) {
		cli_err(path, "the name '%s' is too long for a device-mapper UUID", name);
		ret = EXIT_USAGE;
		goto out;
	}
	strcat(uuid, name);
	cow_close(&cf);

	ret = EXIT_FAIL;
	err = dmdev_exists(name);
	if (err != 0) {
		if (err > 0) {
			cli_err(path, "a device-mapper device named '%s' exists already (choose another name with --name)",
				name);
			ret = EXIT_BUSY;
		} else {
			cli_err(path, "device-mapper is not available (is the dm-mod module loaded?)");
			ret = EXIT_NO_DM;
		}
		goto out;
	}
	ret = make_run_dir(name);
	if (ret)
		goto out;
	dir_made = true;
	ret = EXIT_FAIL;
	if (put_file(name, "cow", cow) || put_file(name, "backing", backing)) {
		cli_err(path, "cannot write into the runtime directory");
		goto out;
	}
	ret = start_server(o, path, name, &pid);
	if (ret)
		goto out;
	ret = EXIT_FAIL;
	cli_info(path, "served by nbdkit, pid %d", (int)pid);
	run_path(sock, sizeof(sock), name, "socket");
	err = nbddev_connect(sock, o->no_discard, &nd, &why);
	if (err) {
		cli_err(path, "%s: %s", why, strerror(-err));
		goto out;
	}
	cli_info(path, "connected to /dev/nbd%d (%d connection%s)", nd.index,
		 nd.connections, nd.connections == 1 ? "" : "s");
	{
		char line[64];

		/* For close after an interrupted open: which device, by whom. */
		snprintf(line, sizeof(line), "%d %d\n", nd.index, (int)getpid());
		if (put_file(name, "nbd", line))
			cli_warn(path, "cannot write into the runtime directory");
	}
	ro = o->read_only || nd.read_only;
	if (nd.read_only && !o->read_only)
		cli_warn(path, "the server serves it read-only; mapped read-only");
	snprintf(table, sizeof(table), "%u:%u 0", major(nd.rdev),
		 minor(nd.rdev));
	t = (struct dmdev_target){ 0, nd.size / 512, "linear", table };
	cli_info(path, "table: 0 %" PRIu64 " linear %s", t.len, table);
	err = dmdev_create_table(name, uuid, ro, &t, 1, node, sizeof(node));
	if (err) {
		if (err == -EEXIST) {
			cli_err(path, "a device-mapper device named '%s' exists already (choose another name with --name)",
				name);
			ret = EXIT_BUSY;
		} else {
			cli_err(path, "cannot create device '%s': %s", name,
				dmdev_last_error()[0] ? dmdev_last_error() :
				strerror(-err));
		}
		goto out;
	}
	dm_made = true;
	printf("%s\n", node);
	ret = EXIT_OK;
out:
	if (ret != EXIT_OK) {
		if (dm_made)
			dmdev_remove(name, false);
		if (nd.index >= 0)
			nbddev_disconnect(nd.index);
		if (pid && stop_server(pid))
			cli_warn(path, "nbdkit (pid %d) did not stop", (int)pid);
		if (dir_made)
			remove_run_dir(name);
	}
	cow_close(&cf);
	return ret;
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
static void disconnect_nbd(const char *name, int idx)
{
	int err = nbddev_disconnect(idx);

	if (err)
		cli_warn(name, "cannot disconnect /dev/nbd%d: %s", idx,
			 strerror(-err));
	else
		cli_info(name, "disconnected /dev/nbd%d", idx);
}

/* Stop the server @pid of mapping @name: 0, or -1 after saying why not. */
static int stop_and_say(const char *name, pid_t pid)
{
	int err = stop_server(pid);

	if (err) {
		cli_err(name, "nbdkit (pid %d) did not stop: %s; the runtime directory is kept",
			(int)pid, strerror(-err));
		return -1;
	}
	return 0;
}

int nbd_close(const struct dmdev *d)
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
		cli_err(name, "the device is in use (mounted or open); close it first");
		return EXIT_BUSY;
	}
	if (err && err != -ENXIO) {
		cli_err(name, "cannot remove the device: %s",
			dmdev_last_error()[0] ? dmdev_last_error() :
			strerror(-err));
		return EXIT_FAIL;
	}
	cli_info(name, "removed");
	if (idx >= 0)
		disconnect_nbd(name, idx);
	if (pid) {
		if (stop_and_say(name, pid))
			return EXIT_FAIL;
		cli_info(name, "nbdkit (pid %d) stopped", (int)pid);
	}
	remove_run_dir(name);
	return EXIT_OK;
}

bool nbd_leftover(const char *name)
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

int nbd_close_leftover(const char *name)
{
	char buf[64];
	int index, pid;
	pid_t server;

	get_file(name, "nbd", buf, sizeof(buf));
	if (sscanf(buf, "%d %d", &index, &pid) == 2 &&
	    nbd_still_ours(index, pid))
		disconnect_nbd(name, index);
	server = server_pid(name);
	if (server && stop_and_say(name, server))
		return EXIT_FAIL;
	remove_run_dir(name);
	cli_warn(name, "no mapping, but what an interrupted 'open --via nbd' left: its server and runtime directory are removed");
	return EXIT_OK;
}

int nbd_commit(const char *name)
{
	char node[DM_NAME_LEN + 16];
	int fd, ret = EXIT_OK;

	snprintf(node, sizeof(node), "%s/%s", DMDEV_DIR, name);
	fd = open(node, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0) {
		cli_err(name, "commit failed: %s", strerror(errno));
		ret = EXIT_FAIL;
	} else {
		cli_info(name, "flushed: the server wrote the bitmap");
	}
	if (fd >= 0)
		close(fd);
	return ret;
}

void nbd_mapping_get(const struct dmdev *d, struct nbd_mapping *m)
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

void nbd_status_print(const struct nbd_mapping *m)
{
	printf("name:              %s\n", cli_q(m->dev->name));
	printf("device:            %s/%s\n", DMDEV_DIR, cli_q(m->dev->name));
	printf("via:               nbd (%s)\n", cli_q(m->nbd_dev));
	printf("access:            %s\n",
	       m->read_only ? "read_only" : "writable");
	printf("cow file:          %s\n", cli_q(m->cow_file));
	printf("backing file:      %s\n", cli_q(m->backing_file));
	if (m->running)
		printf("server:            nbdkit, pid %d, running\n",
		       (int)m->pid);
	else
		printf("server:            not running\n");
	printf("socket:            %s\n", cli_q(m->socket));
	printf("open count:        %d\n", m->dev->open_count);
}

void nbd_mapping_json(struct json *j, const struct nbd_mapping *m)
{
	cli_mapping_json_begin(j, m->dev, "nbd");
	json_string(j, "access", m->read_only ? "read_only" : "writable");
	json_bool(j, "read_only", m->read_only);
	json_string(j, "cow_file", m->cow_file);
	json_string(j, "backing_file", m->backing_file);
	json_string(j, "nbd_device", m->nbd_dev);
	if (m->running)
		json_u64(j, "server_pid", (uint64_t)m->pid);
	else
		json_null(j, "server_pid");
	json_string(j, "socket", m->socket);
	json_u64(j, "sectors", m->dev->dev_len);
	json_u64(j, "open_count", (uint64_t)m->dev->open_count);
	json_bool(j, "deferred_remove", m->dev->deferred_remove);
	json_string(j, "table", m->dev->table);
	json_object_end(j);
}
