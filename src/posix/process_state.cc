// The process-wide state: WSAStartup's reference count, the agent's
// lifetime, and what a forked child does with what it inherited.
#include <pthread.h>
#include <unistd.h>

#include <atomic>

#include "posix/event_registry.h"
#include "posix/internal.h"
#include "posix/notification.h"
#include "posix/provider.h"
#include "posix/socket_calls.h"

namespace wsadup::detail {
namespace {

std::mutex g_state_mutex;
int g_startup_count = 0;  // guarded by g_state_mutex
// g_startup_count > 0, readable without the lock.
std::atomic<bool> g_initialised{false};
std::atomic<pid_t> g_pid{0};
std::atomic<uint64_t> g_fork_generation{0};
std::shared_ptr<Agent> g_agent;
// Agents a forked child inherited. They are never run or destroyed there
// (their thread exists only in the parent); kept reachable on purpose.
std::vector<std::shared_ptr<Agent>>* g_abandoned_agents = nullptr;
std::once_flag g_fork_handlers_once;

// pthread_atfork handlers: every table lock is held across fork(), so the
// child never inherits a table half-changed by another thread.
Agent* g_agent_locked_for_fork = nullptr;

void before_fork() {
  g_state_mutex.lock();
  catalog_mutex().lock();
  notification_mutex().lock();
  events_mutex().lock();
  g_agent_locked_for_fork = g_agent.get();
  if (g_agent_locked_for_fork != nullptr) {
    g_agent_locked_for_fork->loop_mutex().lock();
    g_agent_locked_for_fork->table_mutex().lock();
  }
  idle_connections_mutex().lock();
  descriptor_table_mutex().lock();
}

void after_fork_in_parent() {
  descriptor_table_mutex().unlock();
  idle_connections_mutex().unlock();
  if (g_agent_locked_for_fork != nullptr) {
    g_agent_locked_for_fork->table_mutex().unlock();
    g_agent_locked_for_fork->loop_mutex().unlock();
  }
  events_mutex().unlock();
  notification_mutex().unlock();
  catalog_mutex().unlock();
  g_state_mutex.unlock();
}

void after_fork_in_child() {
  g_pid.store(getpid(), std::memory_order_relaxed);
  g_fork_generation.fetch_add(1, std::memory_order_relaxed);
  descriptor_table_mutex().unlock();
  forget_cached_connections_after_fork();
  idle_connections_mutex().unlock();
  if (g_agent_locked_for_fork != nullptr) {
    g_agent_locked_for_fork->table_mutex().unlock();
    g_agent_locked_for_fork->loop_mutex().unlock();
  }
  forget_notification_after_fork();
  events_mutex().unlock();
  notification_mutex().unlock();
  reset_catalog_mutex_after_fork();
  // The child never serves its parent's agent: it closes its copies of the
  // agent's descriptors and starts its own agent, for its own pid, when it
  // next needs one. It stays initialised, as its memory says it is.
  if (g_agent) {
    g_agent->abandon_after_fork();
    if (g_abandoned_agents == nullptr) {
      g_abandoned_agents = new std::vector<std::shared_ptr<Agent>>();
    }
    g_abandoned_agents->push_back(std::move(g_agent));
    g_agent.reset();
  }
  g_state_mutex.unlock();
}

void install_fork_handlers() {
  std::call_once(g_fork_handlers_once, [] {
    pthread_atfork(before_fork, after_fork_in_parent, after_fork_in_child);
  });
}

}  // namespace

bool is_initialised() { return g_initialised.load(std::memory_order_acquire); }

pid_t current_pid() {
  pid_t pid = g_pid.load(std::memory_order_relaxed);
  if (pid == 0) {
    // Handlers first: a fork after this point renews the cache in the child.
    install_fork_handlers();
    pid = getpid();
    g_pid.store(pid, std::memory_order_relaxed);
  }
  return pid;
}

uint64_t fork_generation() {
  return g_fork_generation.load(std::memory_order_relaxed);
}

int startup() {
  install_fork_handlers();
  std::lock_guard<std::mutex> lock(g_state_mutex);
  if (!g_agent) {
    int status = Agent::start(&g_agent);
    if (status != 0) return status;
  }
  if (g_startup_count == 0) {
    ignore_sigpipe_at_startup();
    map_process_registry();
    // The catalog file is read when the process starts using wsadup, as
    // Windows' ws2_32 reads the catalog at WSAStartup.
    providers_at_startup();
  }
  ++g_startup_count;
  g_initialised.store(true, std::memory_order_release);
  return 0;
}

int cleanup() {
  std::lock_guard<std::mutex> lock(g_state_mutex);
  if (g_startup_count == 0) return WSANOTINITIALISED;
  if (--g_startup_count > 0) return 0;
  g_initialised.store(false, std::memory_order_release);
  // The last WSACleanup: pending references end here, and every socket
  // wsadup created or imported is closed, as Windows resets them. The agent
  // stops under the lock, so a WSAStartup racing with it cannot bind the
  // rendezvous name before the old agent has removed it.
  if (g_agent) {
    g_agent->stop();
    if (g_agent->abandoned()) {
      // Its loop thread still sleeps on what the application closed, and
      // refers to the agent: it lives on, unused, for the process's life.
      if (g_abandoned_agents == nullptr) {
        g_abandoned_agents = new std::vector<std::shared_ptr<Agent>>();
      }
      g_abandoned_agents->push_back(g_agent);
    }
    g_agent.reset();
  }
  notification_cleanup();
  close_cached_connections();
  close_tracked_descriptors();
  close_deferred_connections();
  // Every provider started is cleaned up once (WSPCleanup).
  providers_at_cleanup();
  restore_sigpipe_at_cleanup();
  return 0;
}

std::shared_ptr<Agent> process_agent(bool start_if_missing, int* error) {
  std::lock_guard<std::mutex> lock(g_state_mutex);
  *error = 0;
  if (!g_agent && start_if_missing && g_startup_count > 0) {
    *error = Agent::start(&g_agent);
  }
  if (!g_agent && *error == 0 && start_if_missing) *error = WSANOTINITIALISED;
  return g_agent;
}

}  // namespace wsadup::detail
