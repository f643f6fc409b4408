/* weft — Winsock for the Windows driver (iocp.c): the socket
 * calls of weft_io_sys in their non-blocking form (what the try_ calls and
 * the setup calls need; the overlapped reads, writes, accepts and connects
 * belong to the driver), and Windows errors translated to weft's table. */
#ifndef WEFT_IO_WINSOCK_H
#define WEFT_IO_WINSOCK_H

#include "weft/backend.h"

/* WSAStartup, counted: a driver instance calls init in create and fini in
 * destroy.  0 or a weft code. */
int weft__winsock_init(void);
void weft__winsock_fini(void);

/* A Winsock error (WSAGetLastError) or a Win32 error (GetLastError, what
 * a failed overlapped operation reports) as a weft code: the same table
 * weft_translate_errno gives on POSIX, so tests expect the same codes. */
int weft__win_translate(int err);

/* A completion's NTSTATUS (OVERLAPPED.Internal) as a weft code. */
int weft__nt_translate(long status);

/* weft addresses to and from a sockaddr (at least a sockaddr_in6's room):
 * 0, or WEFT_EAFNOSUPPORT / WEFT_EINVAL. */
int weft__winsock_to_os(const weft_addr *a, void *sa, int *len);
void weft__winsock_from_os(const void *sa, weft_addr *a);

extern const weft_io_sys weft__winsock_sys;

#endif
