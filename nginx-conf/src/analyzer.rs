//! Context and argument validation, in the order and with the texts of nginx's
//! `ngx_conf_handler`.

use crate::directives::{
    self, ModuleType, ANY, ANY_CONF, BLOCK, FAMILY_MAIN, FAMILY_SRV, FLAG, HTTP_LIF, HTTP_LMT,
    HTTP_LOC, HTTP_SIF, HTTP_UPS, MAIN_CONF, MAX_ARGS, MORE1, MORE2, STREAM_UPS,
};

/// The block a directive appears in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Context {
    Main,
    Events,
    Http,
    HttpServer,
    HttpLocation,
    HttpUpstream,
    HttpServerIf,
    HttpLocationIf,
    HttpLimitExcept,
    Mail,
    MailServer,
    Stream,
    StreamServer,
    StreamUpstream,
    /// A block whose contents nginx hands to a custom handler (`types`, `map`, ...)
    /// or that is unknown: nothing inside is analysed. `http` records whether it
    /// lies inside `http` (a `location` in it is still a location, as in crossplane).
    Opaque {
        http: bool,
    },
}

impl Context {
    fn in_http(self) -> bool {
        matches!(
            self,
            Context::Http
                | Context::HttpServer
                | Context::HttpLocation
                | Context::HttpUpstream
                | Context::HttpServerIf
                | Context::HttpLocationIf
                | Context::HttpLimitExcept
                | Context::Opaque { http: true }
        )
    }

    /// The context inside the block opened by `directive` in `self`.
    #[must_use]
    pub fn enter(self, directive: &str) -> Context {
        if self.in_http() && directive == "location" {
            return Context::HttpLocation;
        }
        match (self, directive) {
            (Context::Main, "events") => Context::Events,
            (Context::Main, "http") => Context::Http,
            (Context::Main, "mail") => Context::Mail,
            (Context::Main, "stream") => Context::Stream,
            (Context::Http, "server") => Context::HttpServer,
            (Context::Http, "upstream") => Context::HttpUpstream,
            (Context::HttpServer, "if") => Context::HttpServerIf,
            (Context::HttpLocation, "if") => Context::HttpLocationIf,
            (Context::HttpLocation, "limit_except") => Context::HttpLimitExcept,
            (Context::Mail, "server") => Context::MailServer,
            (Context::Stream, "server") => Context::StreamServer,
            (Context::Stream, "upstream") => Context::StreamUpstream,
            _ => Context::Opaque {
                http: self.in_http(),
            },
        }
    }

    /// nginx's `cf->module_type` and `cf->cmd_type` for this block.
    fn nginx_types(self) -> Option<(ModuleType, u32)> {
        Some(match self {
            Context::Main => (ModuleType::Core, MAIN_CONF),
            Context::Events => (ModuleType::Event, FAMILY_MAIN),
            Context::Http => (ModuleType::Http, FAMILY_MAIN),
            Context::HttpServer => (ModuleType::Http, FAMILY_SRV),
            Context::HttpLocation => (ModuleType::Http, HTTP_LOC),
            Context::HttpUpstream => (ModuleType::Http, HTTP_UPS),
            Context::HttpServerIf => (ModuleType::Http, HTTP_SIF),
            Context::HttpLocationIf => (ModuleType::Http, HTTP_LIF),
            Context::HttpLimitExcept => (ModuleType::Http, HTTP_LMT),
            Context::Mail => (ModuleType::Mail, FAMILY_MAIN),
            Context::MailServer => (ModuleType::Mail, FAMILY_SRV),
            Context::Stream => (ModuleType::Stream, FAMILY_MAIN),
            Context::StreamServer => (ModuleType::Stream, FAMILY_SRV),
            Context::StreamUpstream => (ModuleType::Stream, STREAM_UPS),
            Context::Opaque { .. } => return None,
        })
    }
}

/// How a directive's words ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Terminator {
    Semicolon,
    BlockStart,
}

/// What the analysis checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(
    clippy::struct_excessive_bools,
    reason = "independent switches, as crossplane's"
)]
pub struct Checks {
    /// Unknown directives are errors.
    pub strict: bool,
    /// Contexts are checked.
    pub context: bool,
    /// Argument counts, block/`;` termination and flag values are checked.
    pub args: bool,
}

impl Default for Checks {
    fn default() -> Self {
        Checks {
            strict: false,
            context: true,
            args: true,
        }
    }
}

/// The directive entry accepted, if the table knows the directive here.
#[derive(Debug, Clone, Copy)]
pub struct Accepted<'t> {
    pub entry: Option<&'t directives::Directive>,
}

/// Validates one directive the way `ngx_conf_handler` does; `Err` is nginx's text.
pub fn analyze(
    ctx: Context,
    name: &str,
    args: &[String],
    term: Terminator,
    checks: Checks,
) -> Result<Accepted<'static>, String> {
    let table = directives::table();
    let entries = table.lookup(name);
    if entries.is_empty() {
        if checks.strict {
            return Err(format!("unknown directive \"{name}\""));
        }
        return Ok(Accepted { entry: None });
    }
    let Some((module_type, cmd_type)) = ctx.nginx_types() else {
        return Ok(Accepted { entry: None });
    };
    for entry in entries {
        if entry.module_type != ModuleType::Conf && entry.module_type != module_type {
            continue;
        }
        let in_place = if entry.module_type == ModuleType::Conf {
            entry.flags & ANY_CONF != 0
        } else {
            entry.flags & cmd_type != 0
        };
        if checks.context && !in_place {
            continue;
        }
        if !checks.args {
            return Ok(Accepted { entry: Some(entry) });
        }
        check_args(entry.flags, name, args, term)?;
        return Ok(Accepted { entry: Some(entry) });
    }
    if checks.context {
        Err(format!("\"{name}\" directive is not allowed here"))
    } else {
        Ok(Accepted { entry: None })
    }
}

fn check_args(flags: u32, name: &str, args: &[String], term: Terminator) -> Result<(), String> {
    let block = flags & BLOCK != 0;
    if !block && term != Terminator::Semicolon {
        return Err(format!("directive \"{name}\" is not terminated by \";\""));
    }
    if block && term != Terminator::BlockStart {
        return Err(format!("directive \"{name}\" has no opening \"{{\""));
    }
    let n = args.len();
    let ok = if flags & ANY != 0 {
        true
    } else if flags & FLAG != 0 {
        if n == 1 {
            let v = args[0].to_ascii_lowercase();
            if v != "on" && v != "off" {
                return Err(format!(
                    "invalid value \"{}\" in \"{name}\" directive, it must be \"on\" or \"off\"",
                    args[0]
                ));
            }
        }
        n == 1
    } else if flags & MORE1 != 0 {
        n >= 1
    } else if flags & MORE2 != 0 {
        n >= 2
    } else if n + 1 > MAX_ARGS {
        false
    } else {
        flags & (1 << n) != 0
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid number of arguments in \"{name}\" directive"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(ctx: Context, name: &str, args: &[&str], term: Terminator) -> Result<(), String> {
        let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
        let checks = Checks {
            strict: true,
            ..Checks::default()
        };
        analyze(ctx, name, &args, term, checks).map(|_| ())
    }

    #[test]
    fn nginx_messages() {
        use Terminator::{BlockStart as B, Semicolon as S};
        assert_eq!(a(Context::Main, "http", &[], B), Ok(()));
        assert_eq!(
            a(Context::Http, "worker_processes", &["1"], S),
            Err("\"worker_processes\" directive is not allowed here".into())
        );
        assert_eq!(
            a(Context::Main, "foo", &[], S),
            Err("unknown directive \"foo\"".into())
        );
        assert_eq!(
            a(Context::HttpServer, "listen", &[], S),
            Err("invalid number of arguments in \"listen\" directive".into())
        );
        assert_eq!(
            a(Context::Main, "http", &[], S),
            Err("directive \"http\" has no opening \"{\"".into())
        );
        assert_eq!(
            a(Context::HttpServer, "listen", &["80"], B),
            Err("directive \"listen\" is not terminated by \";\"".into())
        );
        assert_eq!(
            a(Context::Http, "sendfile", &["yes"], S),
            Err(
                "invalid value \"yes\" in \"sendfile\" directive, it must be \"on\" or \"off\""
                    .into()
            )
        );
        assert_eq!(a(Context::Http, "sendfile", &["ON"], S), Ok(()));
        assert_eq!(
            a(Context::HttpUpstream, "server", &["192.0.2.1"], S),
            Ok(())
        );
        assert_eq!(a(Context::HttpLocationIf, "include", &["x"], S), Ok(()));
    }

    #[test]
    fn contexts_follow_crossplane_nesting() {
        let loc = Context::Http
            .enter("server")
            .enter("location")
            .enter("location");
        assert_eq!(loc, Context::HttpLocation);
        assert_eq!(loc.enter("if"), Context::HttpLocationIf);
        assert_eq!(Context::Http.enter("types"), Context::Opaque { http: true });
        assert_eq!(
            Context::Main.enter("stream").enter("upstream"),
            Context::StreamUpstream
        );
    }
}
