//! `--combine`: included files inlined in place of their `include` directives.

use crate::payload::{ConfigFile, Payload, Stmt};

/// Expands `block` into `out`; included files' statements are copied (a file can
/// be included more than once), the block's own statements are moved.
fn inline(configs: &[ConfigFile], block: Vec<Stmt>, stack: &mut Vec<usize>, out: &mut Vec<Stmt>) {
    for mut stmt in block {
        if let Some(includes) = &stmt.includes {
            for &index in includes {
                // A cycle is reported as an error by the parser; stop expanding it here.
                if stack.contains(&index) || index >= configs.len() {
                    continue;
                }
                stack.push(index);
                inline(configs, configs[index].parsed.clone(), stack, out);
                stack.pop();
            }
            continue;
        }
        if let Some(inner) = stmt.block.take() {
            let mut expanded = Vec::with_capacity(inner.len());
            inline(configs, inner, stack, &mut expanded);
            stmt.block = Some(expanded);
        }
        out.push(stmt);
    }
}

/// Folds every file into the first one, as crossplane's `_combine_parsed_configs`.
pub fn combine(mut payload: Payload) -> Payload {
    let Some(first) = payload.config.first_mut() else {
        return payload;
    };
    let main = std::mem::take(&mut first.parsed);
    let mut combined = ConfigFile {
        file: first.file.clone(),
        status: "ok".into(),
        errors: Vec::new(),
        parsed: Vec::new(),
    };
    for config in &payload.config {
        combined.errors.extend(config.errors.iter().cloned());
        if config.status == "failed" {
            combined.status = "failed".into();
        }
    }
    let mut stack = vec![0];
    inline(&payload.config, main, &mut stack, &mut combined.parsed);
    Payload {
        status: payload.status,
        errors: payload.errors,
        config: vec![combined],
    }
}
