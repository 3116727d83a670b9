//! Differential tests: every case of testdata/ipvsadm/cases.txt runs
//! through Debian's `/usr/sbin/ipvsadm` and through ours, each in a fresh
//! network namespace (`unshare --net`, so each starts from an empty IPVS
//! table), and every step's stdout, stderr and exit code must be
//! byte-identical. Cases run one at a time (see `support::run_all`).
//!
//! Case format, one per line (`#` starts a comment line):
//!
//! ```text
//! NAME: STEP ;; STEP ;; ...
//! NAME [fwmark-unsigned]: STEP ;; ...
//! ```
//!
//! A STEP is a `sh -c` snippet where `ipvsadm` is the tool under test;
//! `$WORK` holds generated inputs (`random.rules`) and `$TMP` is a scratch
//! directory of this run alone. `[fwmark-unsigned]` is the one intended
//! difference: ipvsadm 1.31 prints fwmarks above 2^31 as negative numbers,
//! ours prints them unsigned; for such cases the real tool's negative marks
//! are rewritten to their unsigned value before comparing (the rest of the
//! output is still compared byte for byte).
//!
//! Runs in the netlab VM when the host kernel has no IPVS.

mod support;

use libtest_mimic::Failed;

fn main() {
    netlab::kernel::main(&[
        ("cases_match_real_ipvsadm", cases_match_real_ipvsadm),
        (
            "random_table_matches_real_ipvsadm",
            random_table_matches_real_ipvsadm,
        ),
        (
            "random_command_lines_match_real_ipvsadm",
            random_command_lines_match_real_ipvsadm,
        ),
        (
            "random_restore_inputs_match_real_ipvsadm",
            random_restore_inputs_match_real_ipvsadm,
        ),
        (
            "json_listing_describes_the_table",
            support::json::json_listing_describes_the_table,
        ),
        (
            "restore_is_faster_than_real_ipvsadm",
            support::bench::restore_is_faster_than_real_ipvsadm,
        ),
    ]);
}

fn cases_match_real_ipvsadm() -> Result<(), Failed> {
    let text = std::fs::read_to_string(support::testdata("cases.txt"))?;
    let cases = support::parse_cases(&text)?;
    if cases.len() < 50 {
        return Err(format!("only {} cases read", cases.len()).into());
    }
    support::run_all(&cases)
}

fn random_table_matches_real_ipvsadm() -> Result<(), Failed> {
    let steps = [
        "ipvsadm -R < $WORK/random.rules; echo status=$?",
        "ipvsadm -Ln",
        "ipvsadm -L",
        "ipvsadm -Sn",
        "ipvsadm -Ln --thresholds",
        "ipvsadm -Ln --tun-info",
        "ipvsadm -Ln --stats --exact",
        "ipvsadm -S > $TMP/saved; ipvsadm -C; ipvsadm -R < $TMP/saved; ipvsadm -Ln",
    ];
    let case = support::Case {
        name: "random_table".into(),
        fwmark_unsigned: false,
        steps: steps.iter().map(|s| (*s).to_owned()).collect(),
    };
    support::run_all(&[case])
}

/// 300 seeded random command lines (valid and invalid), run in order with
/// both tools in one namespace each, then the resulting tables compared.
fn random_command_lines_match_real_ipvsadm() -> Result<(), Failed> {
    let mut steps = support::random::command_lines(0x0c0f_fee5, 300);
    steps.push("ipvsadm -Sn".to_owned());
    steps.push("ipvsadm -Ln --thresholds".to_owned());
    let case = support::Case {
        name: "random_command_lines".into(),
        fwmark_unsigned: false,
        steps,
    };
    let codes = support::run_all_codes(&[case])?;
    // The mix must exercise every outcome, not only one error path.
    let count = |c: i32| codes.iter().filter(|x| **x == Some(c)).count();
    let (ok, invalid, failed) = (count(0), count(2), count(255));
    if ok < 20 || invalid < 20 || failed < 10 {
        return Err(
            format!("too narrow a mix: {ok} ok, {invalid} exit 2, {failed} exit 255").into(),
        );
    }
    eprintln!("random command lines: {ok} ok, {invalid} exit 2, {failed} exit 255");
    Ok(())
}

/// Seeded random `-R` inputs (valid lines, errors of every kind, odd
/// blanks), each restored into the table left by the previous one, with
/// the status and the table compared after each.
fn random_restore_inputs_match_real_ipvsadm() -> Result<(), Failed> {
    let mut steps = Vec::new();
    for i in 0..support::RESTORE_INPUTS {
        steps.push(format!("ipvsadm -R < $WORK/restore-{i}.rules"));
        steps.push("ipvsadm -Sn".to_owned());
        if i % 4 == 3 {
            steps.push("ipvsadm -C".to_owned());
        }
    }
    let case = support::Case {
        name: "random_restore_inputs".into(),
        fwmark_unsigned: false,
        steps: steps.clone(),
    };
    let codes = support::run_all_codes(&[case])?;
    // The -R statuses must cover success, a validation abort and a failed
    // last line, or the inputs are too tame.
    let restores: Vec<Option<i32>> = steps
        .iter()
        .zip(&codes)
        .filter(|(s, _)| s.contains(" -R "))
        .map(|(_, c)| *c)
        .collect();
    let count = |c: i32| restores.iter().filter(|x| **x == Some(c)).count();
    let (ok, invalid, failed) = (count(0), count(2), count(255));
    eprintln!("random -R inputs: {ok} exit 0, {invalid} exit 2, {failed} exit 255");
    if ok == 0 || invalid == 0 || failed == 0 {
        return Err(format!("too narrow a mix: {ok}/{invalid}/{failed}").into());
    }
    Ok(())
}
