use super::*;

#[test]
fn a_change_sets_what_it_names_and_keeps_the_rest() {
    let before = Impairment {
        loss: Some(Loss::Random { percent: 10.0 }),
        delay_ns: Some(50_000_000),
        jitter_ns: Some(5_000_000),
        rate_bps: Some(10_000_000),
        ..Default::default()
    };
    let change = Impairment {
        corrupt: Some(1.0),
        loss: Some(Loss::Random { percent: 0.0 }),
        ..Default::default()
    };
    let after = before.merged(&change);
    assert_eq!(after.loss, None);
    assert_eq!(after.corrupt, Some(1.0));
    assert_eq!(after.delay_ns, Some(50_000_000));
    assert_eq!(after.rate_bps, Some(10_000_000));
    let no_delay = after.merged(&Impairment {
        delay_ns: Some(0),
        ..Default::default()
    });
    assert_eq!((no_delay.delay_ns, no_delay.jitter_ns), (None, None));
}

#[test]
fn checks_name_the_problem() {
    let bad = |imp: Impairment| imp.check().unwrap_err();
    assert_eq!(
        bad(Impairment {
            jitter_ns: Some(1),
            ..Default::default()
        }),
        "jitter varies a delay: give --delay too"
    );
    assert_eq!(
        bad(Impairment::default().merged(&Impairment {
            distribution: Some(Distribution::Normal),
            ..Default::default()
        })),
        "a distribution shapes a jitter: give --jitter too"
    );
    assert_eq!(
        bad(Impairment {
            loss: Some(Loss::Random { percent: 0.0 }),
            ..Default::default()
        }),
        "loss must be more than 0% and at most 100%, not 0%"
    );
    assert_eq!(
        bad(Impairment {
            burst_bytes: Some(4096),
            ..Default::default()
        }),
        "a burst belongs to a rate: give --rate too"
    );
    assert_eq!(
        bad(Impairment {
            delay_ns: Some(1_000_000),
            jitter_ns: Some(2_000_000),
            ..Default::default()
        }),
        "jitter 2ms is larger than the delay 1ms: frames cannot leave before they arrive"
    );
}

#[test]
fn the_default_burst_holds_a_full_frame() {
    assert_eq!(default_burst(1_000_000, 1500), 16_384);
    assert_eq!(default_burst(1_000_000, 20_000), 20_014);
    assert_eq!(default_burst(100_000_000_000, 1500), 125_000_000);
    let rate = Impairment {
        rate_bps: Some(1_000_000),
        ..Default::default()
    };
    assert_eq!(rate.burst_for(20_000), Some(20_014));
    // A burst given stays as given (refused when too small: `set`).
    let given = Impairment {
        burst_bytes: Some(16_384),
        ..rate
    };
    assert_eq!(given.burst_for(20_000), Some(16_384));
}

#[test]
fn a_share_below_the_resolution_never_reads_back_as_zero() {
    // A threshold a tiny share made before it was refused reads back as no setting.
    let params = program::Params {
        loss: program::threshold(0.0000001),
        corrupt: program::threshold(0.0001),
        ..Default::default()
    };
    let read = Impairment::from_parts(&params, &Record::default());
    assert_eq!(read.loss, None);
    assert_eq!(read.corrupt, Some(0.0001));
    assert_eq!(read.check(), Ok(()));
}

#[test]
fn records_read_back() {
    let record = Record {
        to: "r2.eth1".into(),
        qdisc_part: Impairment {
            delay_ns: Some(50_000_000),
            jitter_ns: Some(5_000_000),
            distribution: Some(Distribution::Normal),
            reorder: Some(25.0),
            rate_bps: Some(10_000_000),
            burst_bytes: Some(4096),
            ..Default::default()
        },
        by: SetBy::File,
    };
    let text = record.write();
    assert!(text.len() < 255);
    assert_eq!(Record::parse(&text), Some(record.clone()));
    // Set by a command: no `by=` (as records older than it), read back as a command's.
    let by_hand = Record {
        by: SetBy::Command,
        ..record
    };
    assert!(!by_hand.write().contains("by="));
    assert_eq!(Record::parse(&by_hand.write()), Some(by_hand));
    assert_eq!(Record::parse("pw-wire to=x index=3"), None);
}

#[test]
fn gemodel_defaults_follow_netem() {
    assert_eq!(
        Loss::parse_gemodel("1%"),
        Ok(Loss::GilbertElliott {
            p: 1.0,
            r: 99.0,
            bad_loss: 100.0,
            good_loss: 0.0
        })
    );
    assert_eq!(
        Loss::parse_gemodel("1%/20%").unwrap().describe(),
        "gemodel 1% 20% 100% 0%"
    );
    assert!(Loss::parse_gemodel("1/2/3/4/5").is_err());
    // An empty field is refused, not skipped (which gave `1%//50%` an r of 50%).
    for text in ["1%//50%", "1%/20%/", "/20%", "1%,,2%"] {
        assert_eq!(
            Loss::parse_gemodel(text),
            Err(format!(
                "\"{text}\" has an empty field: give P[/R[/1-H[/1-K]]] in percent, e.g. 1%/20%"
            ))
        );
    }
    assert_eq!(
        Loss::parse_gemodel("1% 20%").unwrap().describe(),
        "gemodel 1% 20% 100% 0%"
    );
}
