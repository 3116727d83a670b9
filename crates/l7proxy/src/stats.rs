//! The counters of nginx's `stub_status`, for every worker of the process
//! (nginx keeps them in shared memory): connections accepted, handled
//! (given a `worker_connections` place) and active, requests in all and
//! in progress.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};

static ACCEPTS: AtomicU64 = AtomicU64::new(0);
static HANDLED: AtomicU64 = AtomicU64::new(0);
static REQUESTS: AtomicU64 = AtomicU64::new(0);
static ACTIVE: AtomicI64 = AtomicI64::new(0);
static WRITING: AtomicI64 = AtomicI64::new(0);

/// A client connection was accepted.
pub fn accepted() {
    ACCEPTS.fetch_add(1, Relaxed);
}

/// A client connection being served (handled, active until dropped).
#[derive(Debug)]
pub struct Client(());

impl Client {
    pub fn new() -> Self {
        HANDLED.fetch_add(1, Relaxed);
        ACTIVE.fetch_add(1, Relaxed);
        Client(())
    }
}

impl Default for Client {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        ACTIVE.fetch_sub(1, Relaxed);
    }
}

/// A request in progress (counted; in progress until dropped).
#[derive(Debug)]
pub struct Writing(());

impl Writing {
    pub fn new() -> Self {
        REQUESTS.fetch_add(1, Relaxed);
        WRITING.fetch_add(1, Relaxed);
        Writing(())
    }
}

impl Default for Writing {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Writing {
    fn drop(&mut self) {
        WRITING.fetch_sub(1, Relaxed);
    }
}

/// The `stub_status` page. Requests still reading their head are not
/// told apart from waiting connections here: "Reading" is 0 and
/// "Waiting" holds them.
pub fn page() -> String {
    let active = ACTIVE.load(Relaxed).max(0);
    let writing = WRITING.load(Relaxed).clamp(0, active.max(1));
    format!(
        "Active connections: {active} \nserver accepts handled requests\n {} {} {} \n\
         Reading: 0 Writing: {writing} Waiting: {} \n",
        ACCEPTS.load(Relaxed),
        HANDLED.load(Relaxed),
        REQUESTS.load(Relaxed),
        (active - writing).max(0),
    )
}
