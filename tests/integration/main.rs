//! The integration test binary (one binary, one module per concern).

// The allocation guard: it only checks inside `assert_no_alloc` scopes.
#[global_allocator]
static ALLOCATOR: assert_no_alloc::AllocDisabler = assert_no_alloc::AllocDisabler;

mod agitation;
mod audiohook;
mod bad_input;
mod capture;
mod capture_units;
mod cli;
mod common;
mod conversation;
mod dashboard;
mod earcon;
mod golden;
mod invariance;
mod live;
mod loudness_reference;
mod no_alloc;
mod pipeline;
mod properties;
mod pulse;
mod send;
mod server;
mod simulate;
mod synthetic;
mod twilio;
mod view;
