//! The conversation stage on scripted voice activity with known answers, and through the whole
//! pipeline on simulated calls.

use callpulse::alert::{AlertKind, Severity};
use callpulse::conversation::{
    Conversation, ConversationConfig, Event, EventKind, Output, OverlapClass,
};
use callpulse::record::FrameRecord;
use callpulse::role::Role;

use crate::common::*;

/// Who talks when: intervals in seconds per party (active speech; the VAD's hangover is
/// modelled as 0.2 s of inactive speech after each interval).
fn script(
    agent: &[(f64, f64)],
    caller: &[(f64, f64)],
    len_s: f64,
    gaps: &[f64],
) -> Vec<FrameRecord> {
    let state = |ivs: &[(f64, f64)], t: f64| -> Option<bool> {
        if ivs.iter().any(|&(a, b)| t >= a && t < b) {
            Some(true)
        } else if ivs.iter().any(|&(_, b)| t >= b && t < b + 0.2) {
            Some(false)
        } else {
            None
        }
    };
    (0..(len_s * 100.0) as u64)
        .map(|i| {
            let t = i as f64 * 0.01;
            let gap = gaps.iter().any(|&g| (t - g).abs() < 0.005);
            talk(i, state(agent, t), state(caller, t), gap)
        })
        .collect()
}

fn run(
    frames: &[FrameRecord],
    config: &ConversationConfig,
) -> (Vec<Event>, Vec<(u64, callpulse::alert::Alert)>) {
    let mut stage = Conversation::new(config, 0.01).unwrap();
    let mut events = Vec::new();
    let mut alerts = Vec::new();
    for f in frames {
        stage.process(f, &mut |o| match o {
            Output::Event(e) => events.push(e),
            Output::Alert(a) => alerts.push((f.index, a)),
        });
    }
    stage.finish(&mut |o| {
        if let Output::Event(e) = o {
            events.push(e)
        }
    });
    for e in &events {
        assert!(e.end >= e.start, "{e:?}");
    }
    (events, alerts)
}

fn of(events: &[Event], kind: EventKind) -> Vec<Event> {
    events.iter().filter(|e| e.kind == kind).copied().collect()
}

#[test]
fn agent_talking_over_the_caller_is_an_interruption_alerted_at_once() {
    // Caller talks 0-6 s; the agent cuts in at 3 s and talks to 8 s.
    let frames = script(&[(3.0, 8.0)], &[(0.0, 6.0)], 10.0, &[]);
    let (events, alerts) = run(&frames, &ConversationConfig::default());
    let ints = of(&events, EventKind::Interruption);
    assert_eq!(ints.len(), 1, "{events:?}");
    assert_eq!(ints[0].party, Some(Role::Agent));
    assert!(
        (ints[0].start - 3.0).abs() < 0.011 && (ints[0].end - 6.0).abs() < 0.011,
        "{:?}",
        ints[0]
    );
    let ov = of(&events, EventKind::Overlap);
    assert_eq!(ov.len(), 1);
    assert_eq!(ov[0].class, Some(OverlapClass::Interruption));
    // Decided when the agent has talked 0.5 s (frame 349) and the caller still talks 0.5 s
    // after the onset (frame 350); the alert is raised in that frame.
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0].1.kind, AlertKind::AgentInterrupting);
    assert_eq!(alerts[0].0, 350);
    assert!(!alerts[0].1.message.is_empty());
    // The floor went to the agent when the caller stopped.
    let turns = of(&events, EventKind::Turn);
    assert_eq!(turns.len(), 2, "{turns:?}");
    assert_eq!(
        (turns[0].party, turns[1].party),
        (Some(Role::Caller), Some(Role::Agent))
    );
}

#[test]
fn a_short_mm_hmm_is_a_backchannel_not_an_interruption() {
    let frames = script(&[(2.0, 2.3), (4.0, 4.35)], &[(0.0, 6.0)], 8.0, &[]);
    let (events, alerts) = run(&frames, &ConversationConfig::default());
    let bcs = of(&events, EventKind::Backchannel);
    assert_eq!(bcs.len(), 2, "{events:?}");
    assert!(bcs.iter().all(|e| e.party == Some(Role::Agent)));
    assert!(of(&events, EventKind::Interruption).is_empty());
    assert!(alerts.is_empty());
    // No floor change: one caller turn.
    let turns = of(&events, EventKind::Turn);
    assert_eq!(turns.len(), 1);
    assert_eq!(turns[0].party, Some(Role::Caller));
}

#[test]
fn starting_as_the_holder_finishes_is_a_turn_end_overlap() {
    // The agent starts 0.3 s before the caller stops.
    let frames = script(&[(4.7, 8.0)], &[(0.0, 5.0)], 9.0, &[]);
    let (events, alerts) = run(&frames, &ConversationConfig::default());
    let ov = of(&events, EventKind::Overlap);
    assert_eq!(ov.len(), 1, "{events:?}");
    assert_eq!(ov[0].class, Some(OverlapClass::TurnEnd));
    assert!(of(&events, EventKind::Interruption).is_empty());
    assert!(alerts.is_empty());
}

#[test]
fn a_backchannel_in_a_pause_of_the_holder_counts() {
    let frames = script(&[(0.0, 3.0), (3.6, 6.0)], &[(3.1, 3.35)], 7.0, &[]);
    let (events, _) = run(&frames, &ConversationConfig::default());
    let bcs = of(&events, EventKind::Backchannel);
    assert_eq!(bcs.len(), 1, "{events:?}");
    assert_eq!(bcs[0].party, Some(Role::Caller));
    assert!(of(&events, EventKind::Overlap).is_empty());
}

#[test]
fn dead_air_and_monologue_are_reported_and_alerted() {
    let config = ConversationConfig {
        monologue_ms: 5_000.0,
        ..ConversationConfig::default()
    };
    // Agent talks 0-7 s (a monologue), then 8 s of silence, then the caller.
    let frames = script(&[(0.0, 7.0)], &[(15.0, 17.0)], 18.0, &[]);
    let (events, alerts) = run(&frames, &config);
    let kinds: Vec<AlertKind> = alerts.iter().map(|a| a.1.kind).collect();
    assert_eq!(
        kinds,
        [AlertKind::AgentMonologue, AlertKind::DeadAir],
        "{alerts:?}"
    );
    // Dead air alert exactly 5 s after the last active frame (6.99 s).
    assert_eq!(alerts[1].0, 699 + 500);
    let dead = of(&events, EventKind::DeadAir);
    assert_eq!(dead.len(), 1);
    assert!((dead[0].start - 7.0).abs() < 0.011 && (dead[0].end - 15.0).abs() < 0.011);
    assert_eq!(of(&events, EventKind::Monologue).len(), 1);
}

#[test]
fn interruption_alerts_are_debounced_and_escalate() {
    // The agent cuts into the caller's speech four times, 5 s apart.
    let agent: Vec<(f64, f64)> = (0..4)
        .map(|k| (2.0 + 5.0 * k as f64, 3.5 + 5.0 * k as f64))
        .collect();
    let frames = script(&agent, &[(0.0, 25.0)], 26.0, &[]);
    let config = ConversationConfig {
        interrupt_alert_debounce_ms: 8_000.0,
        ..ConversationConfig::default()
    };
    let (events, alerts) = run(&frames, &config);
    assert_eq!(of(&events, EventKind::Interruption).len(), 4);
    // At 2.5, 12.5 s (7.5 and 17.5 s are within 8 s of the last alert).
    assert_eq!(alerts.len(), 2, "{alerts:?}");
    assert_eq!(alerts[0].1.severity, Severity::Warn);
    assert_eq!(
        alerts[1].1.severity,
        Severity::Critical,
        "third interruption within 2 min"
    );
}

#[test]
fn a_gap_ends_turns_without_inventing_overlap() {
    // Both talk across a gap at 3 s; the agent started 0.1 s before the gap.
    let frames = script(&[(2.9, 6.0)], &[(0.0, 8.0)], 9.0, &[3.0]);
    let (events, alerts) = run(&frames, &ConversationConfig::default());
    for e in of(&events, EventKind::Overlap) {
        assert!(
            e.end <= 3.0 + 1e-9 || e.start >= 3.0,
            "overlap across the gap: {e:?}"
        );
    }
    // After the gap both restart together; nobody interrupted anybody there.
    assert!(alerts.is_empty(), "{alerts:?}");
    let turns = of(&events, EventKind::Turn);
    assert!(
        turns.iter().any(|t| (t.end - 3.0).abs() < 0.011),
        "a turn ends at the gap: {turns:?}"
    );
}

#[test]
fn one_party_has_no_overlaps() {
    let frames: Vec<FrameRecord> = script(&[], &[(0.0, 3.0), (3.2, 4.0)], 5.0, &[])
        .into_iter()
        .map(|mut f| {
            f.parties[Role::Agent.index()] = None;
            f
        })
        .collect();
    let (events, alerts) = run(&frames, &ConversationConfig::default());
    assert!(of(&events, EventKind::Overlap).is_empty());
    assert!(of(&events, EventKind::Interruption).is_empty());
    assert!(alerts.is_empty());
    assert_eq!(of(&events, EventKind::Turn).len(), 1);
}

#[test]
fn bad_thresholds_are_named() {
    let bad = ConversationConfig {
        dead_air_ms: 1.0,
        ..ConversationConfig::default()
    };
    let e = Conversation::new(&bad, 0.01).unwrap_err();
    assert!(e.to_string().contains("conversation.dead_air_ms"), "{e}");
}

#[test]
fn a_holder_resuming_after_a_short_pause_is_not_a_newcomer() {
    // The agent holds the floor, its detector drops out for 0.29 s (1.99 → 2.28 s, hangover
    // included until 2.2 s); the caller starts at 2.1 s in that pause and talks over the
    // agent's resumed speech.
    let frames = script(&[(0.0, 2.0), (2.28, 5.0)], &[(2.1, 4.0)], 6.0, &[]);
    let (events, _) = run(&frames, &ConversationConfig::default());
    let ints = of(&events, EventKind::Interruption);
    assert_eq!(ints.len(), 1, "{events:?}");
    assert_eq!(ints[0].party, Some(Role::Caller));
    assert!((ints[0].start - 2.1).abs() < 0.015, "{ints:?}");
    // Without joining, the agent's resumption looked like the agent interrupting the caller.
    let config = ConversationConfig {
        join_pause_ms: 0.0,
        ..ConversationConfig::default()
    };
    let (events, _) = run(&frames, &config);
    let ints = of(&events, EventKind::Interruption);
    assert!(
        ints.iter().any(|e| e.party == Some(Role::Agent)),
        "{events:?}"
    );
}

#[test]
fn a_holder_falling_silent_after_the_onset_has_yielded() {
    // The caller holds the floor; the agent starts at 3.0 s; the caller stops at 3.2 s (its
    // hangover to 3.4 s), is silent 0.3 s and says more from 3.5 s over the agent.
    let frames = script(&[(3.0, 8.0)], &[(0.0, 3.2), (3.5, 6.0)], 9.0, &[]);
    let (events, alerts) = run(&frames, &ConversationConfig::default());
    assert!(
        of(&events, EventKind::Interruption).is_empty(),
        "{events:?}"
    );
    assert!(alerts.is_empty(), "{alerts:?}");
    let ov = of(&events, EventKind::Overlap);
    assert_eq!(ov[0].class, Some(OverlapClass::TurnEnd), "{events:?}");
    // Without the rule the caller's talk runs on across the pause: an interruption.
    let config = ConversationConfig {
        yield_pause_ms: 0.0,
        ..ConversationConfig::default()
    };
    let (events, _) = run(&frames, &config);
    let ints = of(&events, EventKind::Interruption);
    assert_eq!(ints.len(), 1, "{events:?}");
    assert_eq!(ints[0].party, Some(Role::Agent));
}
