/* SPDX-License-Identifier: GPL-2.0 */
/*
 * holders - what holds a block device: the entries of
 * /sys/dev/block/MAJ:MIN/holders/ (a kpartx partition mapping, a dm table
 * on top of it, an md array, ...), each named as lsblk would ("dm-4",
 * with its device-mapper name when it has one: "dm-4 (disk1p1)").
 */
#ifndef UMLCOW_HOLDERS_H
#define UMLCOW_HOLDERS_H

#include <stddef.h>

/*
 * The holders of block device @major:@minor, ", "-separated into @buf
 * (cut short when it does not fit). Returns how many there are, or a
 * negative errno (-ENOENT: no such device).
 */
int holders_of(unsigned int major, unsigned int minor, char *buf,
	       size_t len);

#endif /* UMLCOW_HOLDERS_H */
