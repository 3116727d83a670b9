//! nginx's directive table: name, module, module type, context and argument flags.
//!
//! `directives.tsv` is extracted from nginx 1.22.1's `ngx_command_t` arrays by
//! `tools/gen_directives.py`; the flag names and values are nginx's.

use std::collections::HashMap;
use std::sync::OnceLock;

/// The module type a directive belongs to (`ngx_module_t.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModuleType {
    /// `NGX_CONF_MODULE`: `include`, valid in every module type.
    Conf,
    Core,
    Event,
    Http,
    Mail,
    Stream,
}

pub const NOARGS: u32 = 0x0000_0001;
pub const TAKE1: u32 = 0x0000_0002;
pub const TAKE2: u32 = 0x0000_0004;
pub const TAKE3: u32 = 0x0000_0008;
pub const TAKE4: u32 = 0x0000_0010;
pub const TAKE5: u32 = 0x0000_0020;
pub const TAKE6: u32 = 0x0000_0040;
pub const TAKE7: u32 = 0x0000_0080;
pub const MAX_ARGS: usize = 8;
pub const BLOCK: u32 = 0x0000_0100;
pub const FLAG: u32 = 0x0000_0200;
pub const ANY: u32 = 0x0000_0400;
pub const MORE1: u32 = 0x0000_0800;
pub const MORE2: u32 = 0x0000_1000;
pub const DIRECT_CONF: u32 = 0x0001_0000;
pub const MAIN_CONF: u32 = 0x0100_0000;
pub const ANY_CONF: u32 = 0xFF00_0000;
/// `NGX_EVENT_CONF`, `NGX_HTTP_MAIN_CONF`, `NGX_MAIL_MAIN_CONF`, `NGX_STREAM_MAIN_CONF`.
pub const FAMILY_MAIN: u32 = 0x0200_0000;
/// `NGX_HTTP_SRV_CONF`, `NGX_MAIL_SRV_CONF`, `NGX_STREAM_SRV_CONF`.
pub const FAMILY_SRV: u32 = 0x0400_0000;
/// `NGX_HTTP_LOC_CONF`, `NGX_STREAM_UPS_CONF`.
pub const HTTP_LOC: u32 = 0x0800_0000;
pub const STREAM_UPS: u32 = 0x0800_0000;
pub const HTTP_UPS: u32 = 0x1000_0000;
pub const HTTP_SIF: u32 = 0x2000_0000;
pub const HTTP_LIF: u32 = 0x4000_0000;
pub const HTTP_LMT: u32 = 0x8000_0000;

/// One `ngx_command_t` entry.
#[derive(Debug, Clone)]
pub struct Directive {
    pub name: String,
    pub module: String,
    pub module_type: ModuleType,
    pub flags: u32,
    /// The handler answers `is duplicate` when the directive repeats in one block.
    pub unique: bool,
}

fn flag_value(name: &str) -> Option<u32> {
    Some(match name {
        "NGX_CONF_NOARGS" => NOARGS,
        "NGX_CONF_TAKE1" => TAKE1,
        "NGX_CONF_TAKE2" => TAKE2,
        "NGX_CONF_TAKE3" => TAKE3,
        "NGX_CONF_TAKE4" => TAKE4,
        "NGX_CONF_TAKE5" => TAKE5,
        "NGX_CONF_TAKE6" => TAKE6,
        "NGX_CONF_TAKE7" => TAKE7,
        "NGX_CONF_TAKE12" => TAKE1 | TAKE2,
        "NGX_CONF_TAKE13" => TAKE1 | TAKE3,
        "NGX_CONF_TAKE23" => TAKE2 | TAKE3,
        "NGX_CONF_TAKE123" => TAKE1 | TAKE2 | TAKE3,
        "NGX_CONF_TAKE1234" => TAKE1 | TAKE2 | TAKE3 | TAKE4,
        "NGX_CONF_BLOCK" => BLOCK,
        "NGX_CONF_FLAG" => FLAG,
        "NGX_CONF_ANY" => ANY,
        "NGX_CONF_1MORE" => MORE1,
        "NGX_CONF_2MORE" => MORE2,
        "NGX_DIRECT_CONF" => DIRECT_CONF,
        "NGX_MAIN_CONF" => MAIN_CONF,
        "NGX_ANY_CONF" => ANY_CONF,
        "NGX_EVENT_CONF" | "NGX_HTTP_MAIN_CONF" | "NGX_MAIL_MAIN_CONF" | "NGX_STREAM_MAIN_CONF" => {
            FAMILY_MAIN
        }
        "NGX_HTTP_SRV_CONF" | "NGX_MAIL_SRV_CONF" | "NGX_STREAM_SRV_CONF" => FAMILY_SRV,
        "NGX_HTTP_LOC_CONF" | "NGX_STREAM_UPS_CONF" => HTTP_LOC,
        "NGX_HTTP_UPS_CONF" => HTTP_UPS,
        "NGX_HTTP_SIF_CONF" => HTTP_SIF,
        "NGX_HTTP_LIF_CONF" => HTTP_LIF,
        "NGX_HTTP_LMT_CONF" => HTTP_LMT,
        _ => return None,
    })
}

fn module_type(name: &str) -> Option<ModuleType> {
    Some(match name {
        "NGX_CONF_MODULE" => ModuleType::Conf,
        "NGX_CORE_MODULE" => ModuleType::Core,
        "NGX_EVENT_MODULE" => ModuleType::Event,
        "NGX_HTTP_MODULE" => ModuleType::Http,
        "NGX_MAIL_MODULE" => ModuleType::Mail,
        "NGX_STREAM_MODULE" => ModuleType::Stream,
        _ => return None,
    })
}

fn parse_line(line: &str) -> Option<Directive> {
    let mut cols = line.split('\t');
    let name = cols.next()?.to_owned();
    let module = cols.next()?.to_owned();
    let module_type = module_type(cols.next()?)?;
    let mut flags = 0;
    for part in cols.next()?.split('|') {
        flags |= flag_value(part)?;
    }
    let unique = cols.next()? == "1";
    Some(Directive {
        name,
        module,
        module_type,
        flags,
        unique,
    })
}

/// The directive table, in nginx's module order, indexed by name.
#[derive(Debug)]
pub struct Table {
    by_name: HashMap<String, Vec<Directive>>,
}

impl Table {
    /// Every entry named `name`, in module order.
    pub fn lookup(&self, name: &str) -> &[Directive] {
        self.by_name.get(name).map_or(&[], Vec::as_slice)
    }

    pub fn is_known(&self, name: &str) -> bool {
        self.by_name.contains_key(name)
    }
}

/// The table of nginx 1.22.1's directives (all open-source modules).
pub fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut by_name: HashMap<String, Vec<Directive>> = HashMap::new();
        for line in include_str!("directives.tsv").lines() {
            let d = parse_line(line).unwrap_or_else(|| panic!("bad directives.tsv line {line:?}"));
            by_name.entry(d.name.clone()).or_default().push(d);
        }
        Table { by_name }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_loads_and_knows_core_directives() {
        let t = table();
        let http = &t.lookup("http")[0];
        assert_eq!(http.module_type, ModuleType::Core);
        assert_eq!(
            http.flags & (BLOCK | NOARGS | MAIN_CONF),
            BLOCK | NOARGS | MAIN_CONF
        );
        assert_eq!(t.lookup("server").len(), 5);
        assert!(t.lookup("listen").iter().all(|d| d.flags & MORE1 != 0));
        assert!(!t.is_known("proxy_passs"));
    }
}
