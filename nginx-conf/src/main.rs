//! `nginx-conf`: crossplane's command line (`parse`, `build`, `lex`, `minify`,
//! `format`) plus `check`, an `nginx -t` for the grammar.

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use nginx_conf::builder;
use nginx_conf::lexer::{Lexer, TokenKind};
use nginx_conf::payload::{write_json, Payload};
use nginx_conf::{parse, ParseOptions};

#[derive(Debug, Parser)]
#[command(
    name = "nginx-conf",
    version,
    about = "various operations for nginx config files"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// parses a json payload for an nginx config
    Parse {
        filename: String,
        /// write output to a file
        #[arg(short, long)]
        out: Option<String>,
        /// number of spaces to indent output
        #[arg(short, long, value_name = "NUM")]
        indent: Option<usize>,
        /// ignore directives (comma-separated)
        #[arg(long, value_name = "DIRECTIVES", default_value = "")]
        ignore: String,
        /// only collect first error in file
        #[arg(long)]
        no_catch: bool,
        /// use includes to create one single file
        #[arg(long)]
        combine: bool,
        /// do not include other config files
        #[arg(long)]
        single_file: bool,
        /// include comments in json
        #[arg(long)]
        include_comments: bool,
        /// raise errors for unknown directives
        #[arg(long)]
        strict: bool,
    },
    /// builds an nginx config from a json payload
    Build {
        filename: String,
        /// verbose output
        #[arg(short, long)]
        verbose: bool,
        /// the base directory to build in
        #[arg(short, long = "dir", value_name = "PATH")]
        dirname: Option<String>,
        /// overwrite existing files
        #[arg(short, long)]
        force: bool,
        /// number of spaces to indent output
        #[arg(
            short,
            long,
            value_name = "NUM",
            default_value_t = 4,
            conflicts_with = "tabs"
        )]
        indent: usize,
        /// indent with tabs instead of spaces
        #[arg(short, long)]
        tabs: bool,
        /// do not write header to configs
        #[arg(long)]
        no_headers: bool,
        /// write configs to stdout instead
        #[arg(long)]
        stdout: bool,
    },
    /// lexes tokens from an nginx config file
    Lex {
        filename: String,
        #[arg(short, long)]
        out: Option<String>,
        #[arg(short, long, value_name = "NUM")]
        indent: Option<usize>,
        /// include line numbers in json payload
        #[arg(short = 'n', long)]
        line_numbers: bool,
    },
    /// removes all whitespace from an nginx config
    Minify {
        filename: String,
        #[arg(short, long)]
        out: Option<String>,
    },
    /// formats an nginx config file
    Format {
        filename: String,
        #[arg(short, long)]
        out: Option<String>,
        #[arg(
            short,
            long,
            value_name = "NUM",
            default_value_t = 4,
            conflicts_with = "tabs"
        )]
        indent: usize,
        #[arg(short, long)]
        tabs: bool,
    },
    /// checks a configuration like `nginx -t` (grammar, contexts, arguments)
    Check { filename: String },
}

fn write_out(out: Option<&str>, text: &str) -> Result<(), String> {
    match out {
        Some(path) => std::fs::write(path, text).map_err(|e| format!("{path}: {e}")),
        None => std::io::stdout()
            .write_all(text.as_bytes())
            .map_err(|e| e.to_string()),
    }
}

fn json_out<T: serde::Serialize>(
    out: Option<&str>,
    value: &T,
    indent: Option<usize>,
) -> Result<(), String> {
    let result = match out {
        Some(path) => std::fs::File::create(path)
            .and_then(|f| write_json(value, indent, std::io::BufWriter::with_capacity(1 << 20, f))),
        None => write_json(
            value,
            indent,
            std::io::BufWriter::with_capacity(1 << 20, std::io::stdout().lock()),
        ),
    };
    result.map_err(|e| format!("{}: {e}", out.unwrap_or("stdout")))
}

/// The default `parse` output: compact JSON written while parsing, no tree kept.
fn payload_out(out: Option<&str>, filename: &str, opts: &ParseOptions) -> Result<(), String> {
    fn write<W: Write>(mut w: W, filename: &str, opts: &ParseOptions) -> std::io::Result<()> {
        nginx_conf::json::parse_to_compact(&mut w, filename, opts)?;
        w.write_all(b"\n")?;
        w.flush()
    }
    let result = match out {
        Some(path) => std::fs::File::create(path).and_then(|f| {
            write(
                std::io::BufWriter::with_capacity(1 << 20, f),
                filename,
                opts,
            )
        }),
        None => write(
            std::io::BufWriter::with_capacity(1 << 20, std::io::stdout().lock()),
            filename,
            opts,
        ),
    };
    result.map_err(|e| format!("{}: {e}", out.unwrap_or("stdout")))
}

fn single_file_options() -> ParseOptions {
    ParseOptions {
        single: true,
        check_ctx: false,
        check_args: false,
        ..ParseOptions::default()
    }
}

fn first_error(payload: &Payload) -> Option<String> {
    payload.errors.first().map(|e| e.error.clone())
}

/// Parses `filename`; its first error, if any, is the error.
fn parse_clean(filename: &str, opts: &ParseOptions) -> Result<Payload, String> {
    let payload = parse(filename, opts);
    match first_error(&payload) {
        Some(e) => Err(e),
        None => Ok(payload),
    }
}

/// The statements of the payload's first (main) file.
fn first_file(payload: &Payload) -> &[nginx_conf::payload::Stmt] {
    payload
        .config
        .first()
        .map(|c| c.parsed.as_slice())
        .unwrap_or_default()
}

fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Parse {
            filename,
            out,
            indent,
            ignore,
            no_catch,
            combine,
            single_file,
            include_comments,
            strict,
        } => {
            let opts = ParseOptions {
                catch_errors: !no_catch,
                ignore: ignore
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
                single: single_file,
                comments: include_comments,
                strict,
                combine,
                ..ParseOptions::default()
            };
            if let Err(e) = std::fs::metadata(&filename) {
                return Err(nginx_conf::include::open_failed(&filename, &e));
            }
            if indent.is_none() && !opts.combine {
                return payload_out(out.as_deref(), &filename, &opts);
            }
            let payload = parse(&filename, &opts);
            json_out(out.as_deref(), &payload, indent)
        }
        Command::Build {
            filename,
            verbose,
            dirname,
            force,
            indent,
            tabs,
            no_headers,
            stdout,
        } => {
            let text =
                std::fs::read_to_string(&filename).map_err(|e| format!("{filename}: {e}"))?;
            let payload: Payload =
                serde_json::from_str(&text).map_err(|e| format!("{filename}: {e}"))?;
            let dir = dirname.unwrap_or_else(|| ".".into());
            let mut outputs = Vec::new();
            for config in &payload.config {
                let path = nginx_conf::include::join(&dir, &config.file);
                let built = builder::build(&config.parsed, indent, tabs, !no_headers);
                outputs.push((path, built.trim_end().to_owned() + "\n"));
            }
            if stdout {
                for (path, built) in &outputs {
                    println!("# {path}\n{built}");
                }
                return Ok(());
            }
            let existing: Vec<&str> = outputs
                .iter()
                .map(|(p, _)| p.as_str())
                .filter(|p| std::path::Path::new(p).exists())
                .collect();
            if !force && !existing.is_empty() {
                return Err(format!(
                    "building {filename} would overwrite these files:\n{}\nnot overwritten (use -f)",
                    existing.join("\n")
                ));
            }
            for (path, built) in &outputs {
                if let Some(parent) = std::path::Path::new(path).parent() {
                    std::fs::create_dir_all(parent).map_err(|e| format!("{path}: {e}"))?;
                }
                std::fs::write(path, built).map_err(|e| format!("{path}: {e}"))?;
                if verbose {
                    println!("wrote to {path}");
                }
            }
            Ok(())
        }
        Command::Lex {
            filename,
            out,
            indent,
            line_numbers,
        } => {
            let bytes = std::fs::read(&filename)
                .map_err(|e| nginx_conf::include::open_failed(&filename, &e))?;
            let mut tokens = Vec::new();
            for t in Lexer::new(&bytes) {
                let t = t.map_err(|e| format!("{} in {filename}:{}", e.message, e.line))?;
                let text = match t.kind {
                    TokenKind::Word { text, .. } => text,
                    TokenKind::Semicolon => ";".into(),
                    TokenKind::BlockStart => "{".into(),
                    TokenKind::BlockEnd => "}".into(),
                    TokenKind::Comment(c) => format!("#{c}"),
                };
                tokens.push(if line_numbers {
                    serde_json::json!([text, t.line])
                } else {
                    serde_json::json!(text)
                });
            }
            json_out(out.as_deref(), &tokens, indent)
        }
        Command::Minify { filename, out } => {
            let opts = ParseOptions {
                catch_errors: false,
                ..single_file_options()
            };
            let payload = parse_clean(&filename, &opts)?;
            let parsed = first_file(&payload);
            write_out(out.as_deref(), &builder::minify(parsed))
        }
        Command::Format {
            filename,
            out,
            indent,
            tabs,
        } => {
            let opts = ParseOptions {
                comments: true,
                ..single_file_options()
            };
            let payload = parse_clean(&filename, &opts)?;
            let parsed = first_file(&payload);
            write_out(
                out.as_deref(),
                &(builder::build(parsed, indent, tabs, false) + "\n"),
            )
        }
        Command::Check { filename } => match nginx_conf::check(&filename) {
            Ok(()) => {
                eprintln!("nginx-conf: the configuration file {filename} syntax is ok");
                eprintln!("nginx-conf: configuration file {filename} test is successful");
                Ok(())
            }
            Err(e) => Err(format!(
                "[emerg] {e}\nnginx-conf: configuration file {filename} test failed"
            )),
        },
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("nginx-conf: {e}");
            ExitCode::FAILURE
        }
    }
}
