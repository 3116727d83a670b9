//! Failover of two keepalived peers in a [`Lab`], and the replay of the captured adverts
//! into our [`Machine`] to predict the backup's takeover.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use vrrp::{
    decode, AdvertInterval, Config, Endpoints, Input, Instant, Machine, Received, Timer,
    V3Ipv4Checksum, Version,
};

use super::{signal, signal_all, Lab, Record, Side};

pub const MASTER_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
pub const BACKUP_IP: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));

fn instance(version: Version, interface: &str, priority: u8, advert_int: &str) -> String {
    format!(
        "vrrp_instance T {{\n version {}\n interface {interface}\n virtual_router_id 60\n \
         priority {priority}\n advert_int {advert_int}\n virtual_ipaddress {{\n  192.0.2.100\n \
         }}\n}}\n",
        version.number()
    )
}

/// Runs a master (priority 200) and a backup (priority 100) and stops the master with
/// SIGTERM or kills it; returns the backup-side capture and when the signal was sent
/// (wall clock, like the capture timestamps).
/// v2: both advertise every 1 s. v3: master 0.1 s, backup configured with 1 s.
pub fn failover(version: Version, graceful: bool) -> (Vec<Record>, Duration) {
    let name = format!(
        "v{}{}",
        version.number(),
        if graceful { "term" } else { "kill" }
    );
    let (master_int, settle, seconds) = match version {
        Version::V2 => ("1", Duration::from_secs(5), 12),
        Version::V3 => ("0.1", Duration::from_millis(1_500), 4),
    };
    let mut lab = Lab::new(&name);
    let capture = lab.capture(Side::B, "ip proto 112", None, seconds);
    lab.keepalived(Side::A, "ka", &instance(version, "k0", 200, master_int));
    lab.keepalived(Side::B, "kb", &instance(version, "k1", 100, "1"));
    std::thread::sleep(settle);
    let signalled = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    if graceful {
        signal(lab.keepalived_pid("ka"), "TERM");
    } else {
        // Both at once, child first: keepalived's parent would respawn a lone VRRP child,
        // and a child losing its parent first would stop gracefully.
        let (child, parent) = (lab.vrrp_child_pid("ka"), lab.keepalived_pid("ka"));
        signal_all(&[child, parent], "KILL");
    }
    // Stop as soon as the backup has advertised after the signal (or at tcpdump's timeout).
    let deadline = std::time::Instant::now() + Duration::from_secs(seconds.into());
    while std::time::Instant::now() < deadline {
        let records = capture.so_far();
        if records
            .iter()
            .any(|r| r.source == BACKUP_IP && r.at > signalled)
        {
            std::thread::sleep(Duration::from_millis(50));
            return (capture.stop(), signalled);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let context = format!(
        "master log:\n{}\nbackup log:\n{}",
        lab.log("ka"),
        lab.log("kb")
    );
    (capture.finish(&context), signalled)
}

pub struct Outcome {
    /// Last advert heard from the master (the priority-0 one when graceful).
    pub last_master_advert: Duration,
    /// When our machine, replaying the capture, would take over.
    pub predicted: Duration,
    /// When keepalived's backup sent its first advert as master.
    pub actual: Duration,
}

/// Replays the master's captured adverts into a [`Machine`] configured like keepalived's
/// backup, and finds keepalived's takeover: the backup's first advert after `signalled`.
pub fn replay(
    version: Version,
    records: &[Record],
    signalled: Duration,
) -> Result<Outcome, String> {
    let Some(actual) = records
        .iter()
        .find(|r| r.source == BACKUP_IP && r.at > signalled)
    else {
        return Err("keepalived's backup never took over".into());
    };
    let actual = actual.at;
    let before = |r: &&Record| r.at < actual;
    let last_backup = records
        .iter()
        .filter(before)
        .rfind(|r| r.source == BACKUP_IP);
    let master: Vec<&Record> = records
        .iter()
        .filter(before)
        .filter(|r| r.source == MASTER_IP)
        .collect();
    let (Some(first), Some(last)) = (master.first(), master.last()) else {
        return Err("no advert from the master".into());
    };
    if last_backup.is_some_and(|b| b.at > last.at) || last.at > actual {
        return Err("the master was not master when it was stopped".into());
    }
    let origin = first.at;
    let instant = |at: Duration| Instant::from_elapsed(at.saturating_sub(origin));
    let interval = AdvertInterval::from_centis(100).unwrap();
    let mut machine = Machine::new(Config::new(version, 100, interval, BACKUP_IP));
    machine.handle(Instant::default(), Input::Startup);
    for record in &master {
        let (IpAddr::V4(source), IpAddr::V4(destination)) = (record.source, record.destination)
        else {
            return Err("not IPv4".into());
        };
        let v3_checksum = V3Ipv4Checksum::WithPseudoHeader;
        let endpoints = Endpoints::V4 {
            source,
            destination,
            v3_checksum,
        };
        let advert = decode(&record.message, &endpoints).map_err(|e| e.to_string())?;
        let received = Received::new(&advert, record.source);
        machine.handle(instant(record.at), Input::Advert(received));
    }
    if version == Version::V3 && machine.master_adver_interval().centis() != 10 {
        return Err("our backup did not learn the master's 0.1 s interval".into());
    }
    let due = machine
        .deadline(Timer::MasterDown)
        .ok_or("down timer not armed")?;
    Ok(Outcome {
        last_master_advert: last.at,
        predicted: origin + due.elapsed(),
        actual,
    })
}
