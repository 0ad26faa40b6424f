#ifndef LIVEGATE_CLINUX_H
#define LIVEGATE_CLINUX_H

// What Glibc's Swift overlay does not export on Linux: epoll, eventfd, timerfd,
// accept4 and sched_getaffinity (GNU), plus a few constants as functions.

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdint.h>

/// Number of CPUs this process may run on (sched_getaffinity); 0 when unknown.
int livegate_affinity_cpu_count(void);

/// Pins the calling process (all its threads created later) to one CPU; 0 on success.
int livegate_pin_to_cpu(int cpu);

/// accept4(2) with SOCK_NONBLOCK | SOCK_CLOEXEC.
int livegate_accept4(int fd, struct sockaddr *addr, socklen_t *len);

/// The epoll_event layout is packed on x86_64: fill and read it in C.
int livegate_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data);

/// epoll_wait into parallel arrays of events and data (no packed structs cross into Swift).
int livegate_epoll_wait(int epfd, struct epoll_event *buffer, int max, int timeout,
                        uint32_t *events_out, uint64_t *data_out);

#endif
