//! The binary's subcommands that live in their own files.

pub mod devices;
pub mod earcons;
pub mod live;
pub mod send;
pub mod serve;
