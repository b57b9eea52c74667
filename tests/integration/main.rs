//! Integration tests: the `syncwatch` binary and the daemon, driven as a
//! user would drive them.

mod absence;
mod audit;
mod backends;
mod cli;
mod crash;
mod delivery;
mod digest;
mod hardening;
mod helpers;
mod lifecycle;
mod limits;
mod operations;
mod quiet;
mod security;
mod send_test;
mod shared;
mod status_page;
mod storage;
mod templates;
mod webhook;
