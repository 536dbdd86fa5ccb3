/* SPDX-License-Identifier: GPL-2.0 */
/*
 * nbddev - connect a kernel nbd device to an NBD server on a Unix socket,
 * and disconnect it, without nbd-client: the NBD handshake (fixed newstyle,
 * NBD_OPT_EXPORT_NAME for the default export) on our own socket, then the
 * kernel's generic netlink interface ("nbd" family, Linux 4.12 and later),
 * which takes the connected socket, picks a free /dev/nbdN itself and
 * holds the connection without a process of ours waiting in NBD_DO_IT.
 *
 * Functions return 0 or a negative errno.
 */
#ifndef UMLCOW_NBDDEV_H
#define UMLCOW_NBDDEV_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* The most connections one device gets (nbddev_connect()). */
#define NBDDEV_MAX_CONNECTIONS 4

/* The block major of nbd devices. */
#define NBDDEV_MAJOR 43

struct nbddev {
	int index;		/* N of /dev/nbdN */
	dev_t rdev;		/* its device number */
	uint64_t size;		/* bytes, as the server said */
	uint16_t flags;		/* the server's transmission flags */
	bool read_only;		/* NBD_FLAG_READ_ONLY */
	int connections;	/* sockets the device was given */
};

/*
 * Connect the Unix socket @sock_path, negotiate the default export, and
 * give the connection to a free nbd device (loading the nbd module with
 * modprobe when its netlink family is missing); when the server allows it
 * (NBD_FLAG_CAN_MULTI_CONN), one connection per online CPU, at most
 * NBDDEV_MAX_CONNECTIONS. With @no_trim the kernel
 * is not told that the server takes discards. Fills @nd.
 * On failure *@why (if not NULL) says which step failed.
 */
int nbddev_connect(const char *sock_path, bool no_trim, struct nbddev *nd,
		   const char **why);

/* Disconnect /dev/nbd@index (NBD_CMD_DISCONNECT). */
int nbddev_disconnect(int index);

/*
 * The index N of /dev/nbdN that has device number @rdev (from
 * /sys/dev/block/MAJ:MIN), or a negative errno (-ENOENT: not an nbd
 * device).
 */
int nbddev_index(dev_t rdev);

#endif /* UMLCOW_NBDDEV_H */
