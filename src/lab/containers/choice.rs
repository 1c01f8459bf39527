//! Which runtime a lab's commands use: the one `-r` names, or the one holding the lab's
//! containers.

use super::*;

/// The runtime a lab needs: when the file has container nodes here, or `--runtime` names one,
/// or this lab left container registrations (`clab-LAB-…`) under /run/netns (a file whose
/// last container node was removed). Otherwise `None`: a lab without containers never asks a
/// runtime anything.
pub(in crate::lab) fn runtime_for(
    file: &LabFile,
    host: Option<&str>,
    options: &crate::lab::Options,
) -> Result<Option<Runtime>, LabError> {
    let choice = options.runtime;
    if let Some(program) = &options.program {
        let kind = match choice {
            Choice::Only(kind) => kind,
            Choice::Auto => runtime::Kind::Docker,
        };
        return Ok(Some(runtime::at(kind, program)?));
    }
    // A `mgmt-net` link needs the runtime too when the file names no bridge: it joins the
    // bridge the runtime made for the management network.
    let unnamed = file.mgmt.as_ref().is_some_and(|m| m.bridge.is_none());
    let has_nodes = file.nodes.iter().any(|(_, n)| {
        here(n.host.as_deref(), host)
            && matches!(n.kind, NodeKind::Container(_) | NodeKind::ExtContainer(_))
    }) || (unnamed && has_mgmt_links(file, host));
    let leftovers = netns::named()
        .iter()
        .any(|n| n.starts_with(&format!("clab-{}-", file.name)));
    if !has_nodes && choice == Choice::Auto && !leftovers {
        return Ok(None);
    }
    if choice == Choice::Auto {
        return match holder(&file.name, host)? {
            Some((runtime, _, _)) => Ok(Some(runtime)),
            None if !has_nodes => Ok(None),
            None => Err(runtime::find(choice)
                .err()
                .map(LabError::from)
                .unwrap_or_else(|| LabError::Invalid("no container runtime answered".into()))),
        };
    }
    match runtime::find(choice) {
        Ok(found) => Ok(Some(found)),
        Err(e) if !has_nodes && choice == Choice::Auto => {
            // Leftover registrations without a runtime to ask: nothing to do here.
            let _ = e;
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// docker and podman, those that answer, each with the lab's containers on this host.
pub(super) fn answering(lab: &str, host: Option<&str>) -> Vec<(Runtime, Vec<Container>)> {
    [runtime::Kind::Docker, runtime::Kind::Podman]
        .into_iter()
        .filter_map(|kind| runtime::find(Choice::Only(kind)).ok())
        .filter_map(|runtime| {
            let found = lab_containers(&runtime, lab, host).ok()?;
            Some((runtime, found))
        })
        .collect()
}

/// The runtime a lab's commands use without `-r` (`plan`, `up`, `down`, `show`): the one
/// holding containers labelled as the lab's, whichever answers first otherwise (docker, then
/// podman, as containerlab's default is docker); with whether it is not that default (the
/// advice then says `-r`). A lab with containers in both is refused, naming both: which one
/// the file means is the user's to say. `None`: no runtime answers.
pub(super) fn holder(
    lab: &str,
    host: Option<&str>,
) -> Result<Option<(Runtime, Vec<Container>, bool)>, LabError> {
    let all = answering(lab, host);
    let holding: Vec<usize> = (0..all.len()).filter(|i| !all[*i].1.is_empty()).collect();
    let pick = match holding.as_slice() {
        [] => 0,
        [one] => *one,
        _ => {
            let list = |(runtime, found): &(Runtime, Vec<Container>)| {
                let names: Vec<&str> = found.iter().map(|c| c.name.as_str()).collect();
                format!("{} ({})", runtime.kind, names.join(", "))
            };
            return Err(LabError::Invalid(format!(
                "lab {lab} has containers in both {} and {}: say which runtime is the lab's \
                 with -r docker or -r podman (patchwire down -r RUNTIME FILE removes the other's)",
                list(&all[0]),
                list(&all[1])
            )));
        }
    };
    let mut all = all;
    if pick >= all.len() {
        return Ok(None);
    }
    let (runtime, found) = all.swap_remove(pick);
    Ok(Some((runtime, found, pick > 0)))
}

/// [`holder`]'s runtime, for `down --name` (no file).
pub(in crate::lab) fn holding_runtime(
    lab: &str,
    host: Option<&str>,
) -> Result<Option<Runtime>, LabError> {
    Ok(holder(lab, host)?.map(|(runtime, _, _)| runtime))
}
