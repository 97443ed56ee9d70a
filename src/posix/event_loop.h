// The agent's event loop: one epoll descriptor, one pipe for wake-ups from
// other threads, level-triggered watches on descriptors. It replaces a
// general event library for one reason: the application may close the
// loop's own descriptors under it (a daemon's "close every descriptor above
// 2"), and then this loop ends quietly where a general one aborts the
// process. It has no timers: idle, it sleeps in epoll_wait and costs nothing.
//
// The wake-up is a pipe, not an eventfd, for its identity: every eventfd
// and every epoll descriptor share one inode, so fstat cannot tell the
// loop's own from one the application (or WSACreateEvent) opened on the
// same number after closing it, while each pipe has an inode of its own.
// The loop checks that identity before it sleeps and again when it wakes,
// before it touches anything: a loop thread that had not yet reached
// epoll_wait when its descriptors were closed, and then sleeps on an epoll
// descriptor that a new WSAStartup opened on the same number, wakes on the
// new loop's first event, finds its pipe gone, and ends without taking it
// (level-triggered events go back to the other sleeper).
#ifndef WSADUP_SRC_POSIX_EVENT_LOOP_H
#define WSADUP_SRC_POSIX_EVENT_LOOP_H

#include <atomic>
#include <cstdint>
#include <mutex>
#include <vector>

namespace wsadup::detail {

class EventLoop;

// Watch events: readable, and the peer's end of the stream (EPOLLRDHUP).
constexpr uint32_t kReadable = 1;
constexpr uint32_t kDisconnect = 2;

// A descriptor the loop watches. The callback gets status < 0 when epoll
// reported an error on it, else the events that happened.
struct Watch {
  using Callback = void (*)(Watch* watch, int status, uint32_t events);
  using CloseCallback = void (*)(Watch* watch);
  EventLoop* loop = nullptr;
  int descriptor = -1;
  uint32_t events = 0;  // what it is started for; 0: stopped
  Callback callback = nullptr;
  CloseCallback close_callback = nullptr;
  void* data = nullptr;
  bool closing = false;
};

// A wake-up another thread can send; its callback runs on the loop thread,
// once for any number of sends since it last ran.
struct Signal {
  using Callback = void (*)(Signal* signal);
  EventLoop* loop = nullptr;
  Callback callback = nullptr;
  void* data = nullptr;
  std::atomic<bool> pending{false};
  bool closed = false;
};

class EventLoop {
 public:
  EventLoop() = default;
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Opens the epoll descriptor and the wake-up pipe (close-on-exec). 0 or
  // -1.
  int open();
  // Closes them; for a loop that does not run (or no longer does).
  void close_descriptors();
  // False once the application has closed (or replaced) the wake-up pipe,
  // as a daemon's close_range does with everything: one fstat of its read
  // end, the one in the epoll set (send() checks the write end itself).
  bool intact() const;
  int epoll_descriptor() const { return epoll_; }

  // Loop thread only, or before the loop runs. start returns 0 or -1;
  // starting again changes the events. close stops the watch at once and
  // calls its close callback after the current round of callbacks.
  void init(Watch* watch, int descriptor, void* data);
  int start(Watch* watch, uint32_t events, Watch::Callback callback);
  void stop(Watch* watch);
  void close(Watch* watch, Watch::CloseCallback close_callback);

  void init(Signal* signal, Signal::Callback callback, void* data);
  // Any thread.
  void send(Signal* signal);
  // Loop thread: no more callbacks for it (it stays listed, marked closed).
  void close(Signal* signal);

  // Runs until stop_running() (from a callback), and the close callbacks
  // that requested are done, or until the loop's own descriptors are gone
  // (EBADF: closed by the application), when it returns at once, calling no
  // close callback.
  void run();
  void stop_running() { running_ = false; }

  // Held by the loop thread while it runs a round of callbacks, never while
  // it sleeps: fork() takes it first, so a forked child never inherits a
  // round half done (an allocation only that thread would have freed).
  std::mutex& busy_mutex() { return busy_; }

 private:
  void finish_closes();

  bool is_own_pipe(int descriptor) const;

  int epoll_ = -1;
  int wake_read_ = -1;   // in the epoll set
  int wake_write_ = -1;  // what send() writes to
  uint64_t pipe_device_ = 0;  // the pipe's identity, taken at open()
  uint64_t pipe_inode_ = 0;
  bool running_ = false;
  std::mutex busy_;
  std::vector<Signal*> signals_;
  std::vector<Watch*> closing_;
};

}  // namespace wsadup::detail

#endif  // WSADUP_SRC_POSIX_EVENT_LOOP_H
