//! Placeholder until the server module lands on main (the lead's version wins at merge).

pub mod audiohook;
