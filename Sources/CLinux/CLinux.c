#include "CLinux.h"

int livegate_affinity_cpu_count(void) {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) != 0) return 0;
    return CPU_COUNT(&set);
}

int livegate_pin_to_cpu(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return sched_setaffinity(0, sizeof(set), &set);
}

int livegate_accept4(int fd, struct sockaddr *addr, socklen_t *len) {
    return accept4(fd, addr, len, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

int livegate_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data) {
    struct epoll_event ev;
    ev.events = events;
    ev.data.u64 = data;
    return epoll_ctl(epfd, op, fd, &ev);
}

int livegate_epoll_wait(int epfd, struct epoll_event *buffer, int max, int timeout,
                        uint32_t *events_out, uint64_t *data_out) {
    int n = epoll_wait(epfd, buffer, max, timeout);
    for (int i = 0; i < n; i++) {
        events_out[i] = buffer[i].events;
        data_out[i] = buffer[i].data.u64;
    }
    return n;
}
