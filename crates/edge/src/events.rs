//! Waking those who wait for a tenant's events: a waiter listens before it reads, so an
//! event committed between its read and its wait still wakes it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

/// One `Notify` per tenant that someone waits for.
#[derive(Default)]
pub(crate) struct Waiters {
    tenants: Mutex<HashMap<String, Arc<Notify>>>,
}

impl Waiters {
    /// A future that completes at the tenant's next [`Waiters::wake`] after this call.
    pub(crate) fn listen(&self, tenant: &str) -> impl std::future::Future<Output = ()> + Send + 'static {
        let notify = self.lock().entry(tenant.to_owned()).or_default().clone();
        let mut notified = Box::pin(notify.notified_owned());
        notified.as_mut().enable();
        notified
    }

    /// Wakes every waiter of the tenant.
    pub(crate) fn wake(&self, tenant: &str) {
        let notify = self.lock().get(tenant).cloned();
        if let Some(notify) = notify {
            notify.notify_waiters();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Notify>>> {
        self.tenants.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
