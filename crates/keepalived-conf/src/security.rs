//! Script checks: which scripts keepalived would run, as whom, and whether
//! that needs `enable_script_security` (exit 6 when it is missing).

use crate::diag::{Diagnostics, Severity};
use crate::host::Host;
use crate::lexer::split_escaped;
use crate::model::Config;

/// Is this script actually run (an existing executable, not a `</path` test)?
/// The program of a script command line, unless it is a `</path` test.
fn program(command: &str) -> Option<String> {
    let args = split_escaped(command).ok()?;
    let prog = args.into_iter().next()?;
    match prog.strip_prefix('<') {
        Some(rest) if rest.trim_start_matches([' ', '\t']).starts_with('/') => None,
        _ => Some(prog),
    }
}

pub(crate) fn is_script<H: Host + ?Sized>(host: &H, command: &str) -> bool {
    let Ok(args) = split_escaped(command) else {
        return false;
    };
    let Some(prog) = args.first() else {
        return false;
    };
    if let Some(rest) = prog.strip_prefix('<') {
        if rest.trim_start_matches([' ', '\t']).starts_with('/') {
            return false;
        }
    }
    host.script_exists(prog)
}

/// Whether keepalived can find the user to run scripts as: `script_user`
/// if given (it must exist), else `keepalived_script` if it exists, else
/// root unless script security is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DefaultUser {
    Found,
    /// `script_user` names no account.
    ConfiguredMissing,
    /// Script security needs `keepalived_script` and it does not exist.
    DefaultMissing,
}

pub(crate) fn default_user<H: Host + ?Sized>(cfg: &Config, host: &H) -> DefaultUser {
    match cfg.global_defs.script_user.as_ref().and_then(|u| u.first()) {
        Some(user) if host.user_exists(user) => DefaultUser::Found,
        Some(_) => DefaultUser::ConfiguredMissing,
        None if host.user_exists("keepalived_script") => DefaultUser::Found,
        None if cfg.global_defs.enable_script_security => DefaultUser::DefaultMissing,
        None => DefaultUser::Found,
    }
}

pub(crate) fn no_default_script_user<H: Host + ?Sized>(cfg: &Config, host: &H) -> bool {
    default_user(cfg, host) == DefaultUser::DefaultMissing
}

pub(crate) fn vrrp_script_security<H: Host + ?Sized>(
    cfg: &Config,
    host: &H,
    diags: &mut Diagnostics,
) {
    // keepalived checks VRRP scripts only when there are VRRP instances.
    if cfg.vrrp_instances.is_empty() {
        return;
    }
    let g = &cfg.global_defs;
    for s in &cfg.vrrp_scripts {
        if let Some(cmd) = &s.script {
            if is_system_check(cmd) {
                continue;
            }
            if !is_script(host, cmd) {
                diags.report_global(
                    Severity::GeneralError,
                    format!(
                        "Disabling track script {} since not found/accessible",
                        s.name
                    ),
                );
            } else if program(cmd).is_some_and(|p| !host.script_is_regular_file(&p)) {
                diags.report_global(
                    Severity::GeneralError,
                    format!("Disabling track script {} due to insecure", s.name),
                );
            }
        }
    }
    if g.enable_script_security {
        return;
    }
    let mut scripts: Vec<&String> = cfg
        .vrrp_scripts
        .iter()
        .filter_map(|s| s.script.as_ref())
        .collect();
    // Without a user to run them as, keepalived drops notify scripts
    // ("Failed to set default user ... - ignoring"), so they run nowhere.
    let notify_dropped = default_user(cfg, host) != DefaultUser::Found;
    for v in cfg.vrrp_instances.iter().filter(|_| !notify_dropped) {
        scripts.extend(
            [
                &v.notify_master,
                &v.notify_backup,
                &v.notify_fault,
                &v.notify_stop,
                &v.notify_deleted,
                &v.notify,
                &v.notify_master_rx_lower_pri,
            ]
            .into_iter()
            .flatten(),
        );
    }
    for s in cfg.vrrp_sync_groups.iter().filter(|_| !notify_dropped) {
        scripts.extend(
            [
                &s.notify_master,
                &s.notify_backup,
                &s.notify_fault,
                &s.notify_stop,
                &s.notify,
            ]
            .into_iter()
            .flatten(),
        );
    }
    scripts.extend(
        [&g.notify_fifo_script, &g.vrrp_notify_fifo_script]
            .into_iter()
            .flatten(),
    );
    if scripts.iter().any(|s| is_script(host, s)) {
        diags.report_global(
            Severity::Security,
            "SECURITY VIOLATION - scripts are being executed but script_security not enabled.",
        );
    }
}

/// Checker scripts (checked whatever the VRRP side did).
pub(crate) fn check_script_security<H: Host + ?Sized>(
    cfg: &Config,
    host: &H,
    diags: &mut Diagnostics,
) {
    let g = &cfg.global_defs;
    if g.enable_script_security {
        return;
    }
    let mut check_scripts: Vec<&String> = Vec::new();
    for vs in &cfg.virtual_servers {
        for rs in &vs.real_servers {
            check_scripts.extend([&rs.notify_up, &rs.notify_down].into_iter().flatten());
            check_scripts.extend(rs.checkers.iter().filter_map(|c| c.misc_path.as_ref()));
        }
    }
    if check_scripts.iter().any(|s| is_script(host, s)) {
        diags.report_global(
            Severity::Security,
            "SECURITY VIOLATION - check scripts are being executed but script_security not enabled.",
        );
    }
}

/// keepalived's main process: startup and shutdown scripts.
pub fn start_stop_scripts<H: Host + ?Sized>(cfg: &Config, host: &H, diags: &mut Diagnostics) {
    let g = &cfg.global_defs;
    if g.enable_script_security {
        return;
    }
    if [&g.startup_script, &g.shutdown_script]
        .into_iter()
        .flatten()
        .any(|s| is_script(host, s))
    {
        diags.report_global(
            Severity::Security,
            "SECURITY VIOLATION - start/shutdown scripts are being executed but script_security not enabled.",
        );
    }
}

/// `</path`: a check that a file can be opened, not a program to run.
fn is_system_check(command: &str) -> bool {
    let Ok(args) = split_escaped(command) else {
        return false;
    };
    args.first()
        .and_then(|p| p.strip_prefix('<'))
        .is_some_and(|rest| rest.trim_start_matches([' ', '\t']).starts_with('/'))
}
