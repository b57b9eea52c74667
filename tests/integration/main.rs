//! Integration tests: the `syncwatch` binary and the daemon, driven as a
//! user would drive them.

#[macro_use]
mod helpers;

mod absence;
mod audit;
mod backends;
mod cli;
mod conformance;
mod crash;
mod day_two;
mod day_two_ops;
mod delivery;
mod digest;
mod digest_keys;
mod fallback;
mod grouping;
mod hardening;
mod inhibit;
mod lifecycle;
mod limits;
mod migrate;
mod operations;
mod outages;
mod quiet;
mod readme;
mod receivers;
mod rule_tests;
mod security;
mod send_test;
mod shared;
mod slack_app;
mod status_page;
mod status_truth;
mod storage;
mod templates;
mod templates_hostile;
mod truth;
mod watch_the_watcher;
mod webhook;
