//! doorman's integration tests: real sockets on 127.0.0.1, a fake upstream
//! and fake providers. One binary, one support module.

mod support;

mod adversarial;
mod adversarial_connections;
mod adversarial_front_proxies;
mod adversarial_gate;
mod attempts;
mod browser;
mod cli;
mod codes;
mod config;
mod cookies;
mod credentials;
mod deploy;
mod duo;
mod enroll;
mod flow;
mod forward_auth;
mod i18n;
mod limits;
mod metrics;
mod nginx;
mod path_readings;
mod providers_sms;
mod providers_telnyx;
mod providers_twilio;
mod providers_vonage;
mod proxy;
mod push;
mod reload;
mod replicas;
mod restart;
mod rules;
pub mod security;
mod session;
mod store;
mod tls;
mod totp;
mod users_watch;
mod verify;
