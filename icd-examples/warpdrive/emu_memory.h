/* emu_memory.h — how the emulated uacce device reaches its clients' memory
 * (emu_memory.c; used by uacce_emulator.c). */
#ifndef EMU_MEMORY_H
#define EMU_MEMORY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* The address space a queue works in (SVA). */
typedef struct emu_space {
    pid_t pid;       /* the client process (SO_PEERCRED) */
    int mem_fd;      /* its /proc/<pid>/mem when it sent one, else -1 */
    bool use_mem_fd; /* process_vm_readv was refused: read through mem_fd */
} emu_space;

/* A mapping of client memory the device holds: a registered region
 * (no SVA) or a translation entry (SVA). Reference-counted. */
typedef struct emu_map emu_map;

/* Once, before any other call: whether addresses are virtual (SVA). */
void emu_memory_init(bool sva);

/*
 * Control path (the emulator's control messages). Each returns 0 or a
 * positive errno. `owner` is the connection that made the request; only it
 * may remove what it added, and emu_memory_drop_owner removes all of it
 * when the connection ends.
 *
 * emu_region_add (no SVA): map [offset, offset + size) of fd; *id is the
 * region id for WD_ADDR().
 * emu_translation_add (SVA): map [offset, offset + size) of fd and record
 * that the client `pid` sees those bytes at [va, va + size). Refused with
 * EEXIST when the range overlaps another entry of the same process.
 * The remove calls return once no later request can use the mapping.
 */
int emu_region_add(const void *owner, int fd, uint64_t offset, uint64_t size, uint32_t *id);
int emu_region_remove(const void *owner, uint32_t id);
int emu_translation_add(const void *owner, pid_t pid, int fd, uint64_t offset, uint64_t size, uint64_t va,
                        uint32_t *id);
int emu_translation_remove(const void *owner, uint32_t id);
void emu_memory_drop_owner(const void *owner);

/*
 * Data path (queue threads). A device address is a virtual address of
 * s->pid (SVA) or WD_ADDR(region, offset).
 *
 * emu_direct: a pointer to the bytes [addr, addr + len) when one mapping
 * holds all of them (a hit of the translation cache, or a registered
 * region), with the mapping held in *hold until emu_release; NULL
 * otherwise (len 0 included).
 * emu_read / emu_write copy through the mappings where they cover the
 * range and through the client's address space (process_vm_readv /
 * writev) where they do not. 0 or a WD_ST_* code.
 */
uint8_t *emu_direct(const emu_space *s, uint64_t addr, uint64_t len, emu_map **hold);
void emu_release(emu_map *hold);
int emu_read(emu_space *s, uint64_t addr, void *dst, uint64_t len);
int emu_write(emu_space *s, uint64_t addr, const void *src, uint64_t len);

#endif
