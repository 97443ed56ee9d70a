// The agent's event loop (event_loop.h). Every failure of epoll_ctl or
// epoll_wait is an answer, never an abort: a watch that cannot be added
// reports -1 to its caller, and a loop whose descriptors are gone ends.
#include "posix/event_loop.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

namespace wsadup::detail {
namespace {

// epoll's data for the wake-up descriptor; every other entry is a Watch*.
void* const kWakeup = nullptr;

uint32_t epoll_events(uint32_t events) {
  uint32_t result = 0;
  if ((events & kReadable) != 0) result |= EPOLLIN;
  if ((events & kDisconnect) != 0) result |= EPOLLRDHUP;
  return result;
}

}  // namespace

int EventLoop::open() {
  epoll_ = epoll_create1(EPOLL_CLOEXEC);
  int ends[2];
  if (pipe2(ends, O_CLOEXEC | O_NONBLOCK) == 0) {
    wake_read_ = ends[0];
    wake_write_ = ends[1];
  }
  struct stat status;
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.ptr = kWakeup;
  if (epoll_ < 0 || wake_read_ < 0 || fstat(wake_read_, &status) != 0 ||
      epoll_ctl(epoll_, EPOLL_CTL_ADD, wake_read_, &event) != 0) {
    close_descriptors();
    return -1;
  }
  pipe_device_ = status.st_dev;
  pipe_inode_ = status.st_ino;
  return 0;
}

void EventLoop::close_descriptors() {
  if (epoll_ >= 0) ::close(epoll_);
  if (wake_read_ >= 0) ::close(wake_read_);
  if (wake_write_ >= 0) ::close(wake_write_);
  epoll_ = wake_read_ = wake_write_ = -1;
}

bool EventLoop::is_own_pipe(int descriptor) const {
  struct stat status;
  return descriptor >= 0 && fstat(descriptor, &status) == 0 &&
         status.st_dev == pipe_device_ && status.st_ino == pipe_inode_;
}

bool EventLoop::intact() const { return is_own_pipe(wake_read_); }

void EventLoop::init(Watch* watch, int descriptor, void* data) {
  watch->loop = this;
  watch->descriptor = descriptor;
  watch->data = data;
  watch->events = 0;
  watch->closing = false;
}

int EventLoop::start(Watch* watch, uint32_t events, Watch::Callback callback) {
  if (watch->closing) return -1;
  epoll_event event{};
  event.events = epoll_events(events);
  event.data.ptr = watch;
  int operation = watch->events == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
  if (epoll_ctl(epoll_, operation, watch->descriptor, &event) != 0) return -1;
  watch->events = events;
  watch->callback = callback;
  return 0;
}

void EventLoop::stop(Watch* watch) {
  if (watch->events == 0) return;
  // A descriptor already closed has left the epoll set by itself.
  epoll_ctl(epoll_, EPOLL_CTL_DEL, watch->descriptor, nullptr);
  watch->events = 0;
}

void EventLoop::close(Watch* watch, Watch::CloseCallback close_callback) {
  if (watch->closing) return;
  stop(watch);
  watch->closing = true;
  watch->close_callback = close_callback;
  closing_.push_back(watch);
}

void EventLoop::init(Signal* signal, Signal::Callback callback, void* data) {
  signal->loop = this;
  signal->callback = callback;
  signal->data = data;
  signal->pending.store(false, std::memory_order_relaxed);
  signal->closed = false;
  signals_.push_back(signal);
}

void EventLoop::send(Signal* signal) {
  signal->pending.store(true, std::memory_order_release);
  // Not into a file the application opened on the number after closing
  // the pipe: then nothing will run this loop again anyway.
  if (!is_own_pipe(wake_write_)) return;
  char one = 1;
  // EAGAIN: the pipe is full, so a wake-up is pending anyway.
  ssize_t ignored = write(wake_write_, &one, sizeof(one));
  (void)ignored;
}

void EventLoop::close(Signal* signal) {
  signal->closed = true;
}

void EventLoop::finish_closes() {
  while (!closing_.empty()) {
    std::vector<Watch*> closing;
    closing.swap(closing_);
    for (Watch* watch : closing) {
      if (watch->close_callback != nullptr) watch->close_callback(watch);
    }
  }
}

void EventLoop::run() {
  running_ = true;
  constexpr int kBatch = 64;
  epoll_event events[kBatch];
  while (running_) {
    // Checked before the loop sleeps and again when it wakes (see the
    // header): a closed pipe means the application closed the loop's
    // descriptors, and what is left to close is left alone, since its
    // numbers may be the application's files by now.
    if (!intact()) return;
    int ready = epoll_wait(epoll_, events, kBatch, -1);
    if (ready < 0) {
      if (errno == EINTR) continue;
      return;  // EBADF, EINVAL: the same, seen by epoll_wait
    }
    if (!intact()) return;  // woken on a set not its own
    std::lock_guard<std::mutex> busy(busy_);
    for (int i = 0; i < ready; ++i) {
      if (events[i].data.ptr == kWakeup) {
        char drained[64];
        ssize_t ignored = read(wake_read_, drained, sizeof(drained));
        (void)ignored;
        // Signals are only ever added before the loop runs, and closing one
        // only marks it, so the list stays as it is while callbacks run.
        for (Signal* signal : signals_) {
          if (!signal->closed &&
              signal->pending.exchange(false, std::memory_order_acq_rel)) {
            signal->callback(signal);
          }
        }
        continue;
      }
      auto* watch = static_cast<Watch*>(events[i].data.ptr);
      // Closed by an earlier callback of this round: its memory stays
      // until finish_closes, and it is not called.
      if (watch->closing || watch->events == 0) continue;
      uint32_t happened = events[i].events;
      if ((happened & EPOLLERR) != 0) {
        stop(watch);
        watch->callback(watch, -1, 0);
        continue;
      }
      uint32_t reported = 0;
      if ((happened & (EPOLLIN | EPOLLHUP)) != 0) reported |= kReadable;
      if ((happened & (EPOLLRDHUP | EPOLLHUP)) != 0) reported |= kDisconnect;
      reported &= watch->events;
      if (reported != 0) watch->callback(watch, 0, reported);
    }
    finish_closes();
  }
  finish_closes();
}

}  // namespace wsadup::detail
