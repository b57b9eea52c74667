//! Talking to systemd (Type=notify): EXTEND_TIMEOUT_USEC while storage
//! opens, READY=1 once listening with storage open, RELOADING=1 with
//! MONOTONIC_USEC around a reload, STOPPING=1, and WATCHDOG=1 from a task on
//! the runtime, so a stuck runtime gets restarted. Without `NOTIFY_SOCKET`
//! (not under systemd) every call does nothing.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

use sd_notify::NotifyState;

fn send(states: &[NotifyState<'_>]) {
    if let Err(err) = sd_notify::notify(false, states) {
        tracing::warn!(error = %err, "cannot notify systemd");
    }
}

pub fn ready() {
    send(&[NotifyState::Ready, NotifyState::Status("serving")]);
}

/// Before re-reading the configuration; `reloaded` after it.
pub fn reloading() {
    match NotifyState::monotonic_usec_now() {
        Ok(now) => send(&[NotifyState::Reloading, now]),
        Err(_) => send(&[NotifyState::Reloading]),
    }
}

pub fn reloaded(status: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(status)]);
}

pub fn stopping() {
    send(&[NotifyState::Stopping]);
}

/// Pings systemd's watchdog at half its interval, if `WatchdogSec=` is set.
/// The ping runs on the async runtime: if the runtime stops making progress
/// the pings stop, and systemd restarts the service.
pub fn spawn_watchdog() {
    let mut usec = 0;
    if !sd_notify::watchdog_enabled(false, &mut usec) {
        return;
    }
    let every = Duration::from_micros(usec) / 2;
    tracing::info!(every = ?every, "systemd watchdog enabled");
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            send(&[NotifyState::Watchdog]);
        }
    });
}

/// How far each notice pushes systemd's start timeout.
const EXTEND: Duration = Duration::from_secs(60);

/// Keeps systemd waiting while the store opens, until dropped. A schema
/// upgrade can take minutes on a big database (the events table is rebuilt
/// at about 10 s per million events); past `TimeoutStartSec` systemd would
/// kill it half-way, the upgrade would roll back, and every restart would
/// start it over.
pub struct Starting {
    stop: Option<mpsc::Sender<()>>,
    notifier: Option<JoinHandle<()>>,
}

pub fn starting(status: &'static str) -> Starting {
    let (stop, stopped) = mpsc::channel::<()>();
    let notifier = std::env::var_os("NOTIFY_SOCKET").and_then(|_| {
        let notify = move || {
            loop {
                send(&[
                    NotifyState::ExtendTimeoutUsec(EXTEND.as_micros() as u32),
                    NotifyState::Status(status),
                ]);
                if !matches!(stopped.recv_timeout(EXTEND / 3), Err(RecvTimeoutError::Timeout)) {
                    break;
                }
            }
        };
        std::thread::Builder::new()
            .name("syncwatch-start".into())
            .spawn(notify)
            .ok()
    });
    Starting {
        stop: Some(stop),
        notifier,
    }
}

impl Drop for Starting {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(notifier) = self.notifier.take() {
            let _ = notifier.join();
        }
    }
}
