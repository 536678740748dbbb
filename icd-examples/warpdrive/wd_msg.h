/* wd_msg.h — one control message of the emulator socket (wd_proto.h,
 * "Control messages") with the file descriptors that travel with it
 * (SCM_RIGHTS): the driver's and the emulator's end of the same exchange.
 *
 * No allocation; thread-safe for distinct sockets (a socket's messages are
 * the caller's to order). */
#ifndef WD_MSG_H
#define WD_MSG_H

#include <sys/types.h>

#include "wd_proto.h"

/* The most descriptors one message carries (WD_MSG_START_Q's reply). */
#define WD_MSG_MAX_FDS 2

/* Send *m (magic set here) with fds[0..nfds), nfds 0 to WD_MSG_MAX_FDS,
 * retrying on EINTR. sendmsg's result: sizeof(*m), or -1 with errno. */
ssize_t wd_msg_send(int sock, wd_msg *m, const int *fds, int nfds);

/* Receive one message into *m, retrying on EINTR: the first max_fds (at
 * most WD_MSG_MAX_FDS) descriptors that came with it go to fds, *nfds of
 * them, and the caller owns them whatever the result; the others are
 * closed. recvmsg's result: 0 when the peer hung up, -1 with errno. A
 * message is whole when the result is sizeof(*m) and m->magic is
 * WD_MSG_MAGIC: the caller checks. */
ssize_t wd_msg_recv(int sock, wd_msg *m, int *fds, int max_fds, int *nfds);

#endif
