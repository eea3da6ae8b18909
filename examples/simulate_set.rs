//! Writes a set of random simulated calls (WAV + truth JSONL) for evaluations, and prints a
//! table of what each call holds.
//!
//! ```text
//! cargo run --release --example simulate_set -- [--data DIR] [--out DIR] [--n N] [--seed S]
//! ```
//!
//! `--data` is the shared data folder (default `../shared/data`), read in place: its audio is
//! never copied into the repository. Calls `call_SSS.wav` / `call_SSS.truth.jsonl` go to `--out`
//! (default `target/simulated`); call `i` uses seed `S + i`, so a set is reproducible.

use std::fs::{self, File};
use std::io::BufWriter;
use std::path::PathBuf;

use callpulse::simulate::{OverlapClass, RandomCallOptions, UtterancePool, random_script, render};

fn main() {
    let mut data = PathBuf::from("../shared/data");
    let mut out = PathBuf::from("target/simulated");
    let mut n = 50u64;
    let mut seed = 0u64;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |what: &str| args.next().unwrap_or_else(|| panic!("{a} needs {what}"));
        match a.as_str() {
            "--data" => data = PathBuf::from(value("DIR")),
            "--out" => out = PathBuf::from(value("DIR")),
            "--n" => n = value("N").parse().expect("--n N: a whole number"),
            "--seed" => seed = value("S").parse().expect("--seed S: a whole number"),
            "-h" | "--help" => {
                println!(
                    "usage: simulate_set [--data DIR] [--out DIR] [--n N] [--seed S]\n  \
                     DIR defaults to ../shared/data; calls go to --out (default target/simulated)"
                );
                return;
            }
            other => panic!("unknown argument {other}"),
        }
    }
    if !data.join("pitch").is_dir() {
        eprintln!(
            "simulate_set: {} not found; nothing to do (pass --data DIR)",
            data.join("pitch").display()
        );
        return;
    }
    println!(
        "command: cargo run --release --example simulate_set -- --data {} --out {} --n {n} --seed {seed}\n",
        data.display(),
        out.display()
    );
    let pool = UtterancePool::from_shared_data(&data).expect("shared data pool");
    println!(
        "pool: {} speakers ({}), {} sentences, {} own + {} shared backchannel clips\n",
        pool.usable_speakers(),
        pool.speakers
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>()
            .join(" "),
        pool.speakers
            .iter()
            .map(|s| s.sentences.len())
            .sum::<usize>(),
        pool.speakers
            .iter()
            .map(|s| s.backchannels.len())
            .sum::<usize>(),
        pool.shared_backchannels.len()
    );
    fs::create_dir_all(&out).expect("create the output folder");
    let opts = RandomCallOptions::default();
    println!(
        "{:>5} {:>6} {:>5} {:>5} {:>6} {:>6} {:>6} {:>5} {:>5} {:>5} {:>5} {:>5} {:>5}",
        "seed",
        "dur_s",
        "tel",
        "snr",
        "leak",
        "delay",
        "utts",
        "turns",
        "ovl",
        "bc",
        "tend",
        "intr",
        "bcs"
    );
    let mut totals = [0usize; 7];
    let mut seconds = 0.0;
    let mut missing = 0;
    for i in 0..n {
        let s = seed + i;
        let (script, options) = random_script(s, &pool, &opts).expect("random script");
        let call = render(&script, &options).expect("render");
        let t = &call.truth;
        let wav = out.join(format!("call_{s:03}.wav"));
        call.write_wav(&wav).expect("write the WAV");
        let truth = File::create(out.join(format!("call_{s:03}.truth.jsonl"))).expect("truth file");
        t.write_jsonl(BufWriter::new(truth))
            .expect("write the truth");
        let row = [
            t.utterances.len(),
            t.turns.len(),
            t.overlaps.len(),
            t.count(OverlapClass::Backchannel),
            t.count(OverlapClass::TurnEnd),
            t.count(OverlapClass::Interruption),
            t.backchannels.len(),
        ];
        if row[3] == 0 || row[4] == 0 || row[5] == 0 {
            missing += 1;
        }
        for (total, v) in totals.iter_mut().zip(row) {
            *total += v;
        }
        seconds += t.info.duration_s;
        println!(
            "{s:>5} {:>6.1} {:>5} {:>5} {:>6} {:>6.1} {:>6} {:>5} {:>5} {:>5} {:>5} {:>5} {:>5}",
            t.info.duration_s,
            if t.info.telephone { "yes" } else { "no" },
            t.info.snr_db.map_or("-".to_string(), |v| format!("{v:.0}")),
            t.info
                .leak_db
                .map_or("-".to_string(), |v| format!("{v:.1}")),
            t.info.leak_delay_ms,
            row[0],
            row[1],
            row[2],
            row[3],
            row[4],
            row[5],
            row[6]
        );
    }
    println!(
        "\n{n} calls, {:.1} min: {} utterances, {} turns, {} overlaps ({} backchannel, {} turn_end, \
         {} interruption), {} interruption events, {} backchannel events; {missing} calls lack \
         an overlap class. Written to {}",
        seconds / 60.0,
        totals[0],
        totals[1],
        totals[2],
        totals[3],
        totals[4],
        totals[5],
        totals[5],
        totals[6],
        out.display()
    );
}
