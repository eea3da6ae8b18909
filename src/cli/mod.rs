//! The binary's subcommands that live in their own files.

pub mod earcons;
