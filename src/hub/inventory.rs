//! The kernel's hubs, inventoried: each member's record (an altname naming its hub) and its
//! fan-out filters. Read once per command.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::nl::link::{IfIndex, Link};
use crate::nl::tc::{Filter, HubAction};
use crate::wire::WireError;
use crate::wire::inventory::{NsView, TcState, hub_record};

/// An inventory of a namespace's hubs: its links and the hubs their records name.
pub(super) struct HubInventory {
    pub links: BTreeMap<IfIndex, Link>,
    pub by_name: HashMap<String, IfIndex>,
    /// Each hub's recorded members.
    pub members: BTreeMap<String, BTreeSet<IfIndex>>,
}

impl HubInventory {
    /// One link dump: every link, and every hub by its members' records.
    pub fn read(view: &mut NsView) -> Result<HubInventory, WireError> {
        let links: BTreeMap<IfIndex, Link> = view
            .all_links()?
            .into_iter()
            .map(|l| (l.index, l))
            .collect();
        let by_name = links.values().map(|l| (l.name.clone(), l.index)).collect();
        let mut members: BTreeMap<String, BTreeSet<IfIndex>> = BTreeMap::new();
        for link in links.values() {
            if let Some((hub, _, _)) = hub_record(link) {
                members.entry(hub).or_default().insert(link.index);
            }
        }
        Ok(HubInventory {
            links,
            by_name,
            members,
        })
    }

    /// The hub `index` is recorded as a port of.
    pub fn hub_of(&self, index: IfIndex) -> Option<String> {
        hub_record(self.links.get(&index)?).map(|(hub, _, _)| hub)
    }

    pub fn name_of(&self, index: IfIndex) -> String {
        self.links
            .get(&index)
            .map_or_else(|| format!("ifindex {index}"), |l| l.name.clone())
    }
}

/// A member's hub filters, lowest priority first.
pub(super) fn fanout(tc: &TcState) -> Vec<Filter> {
    let mut filters: Vec<Filter> = tc.hub_filters().cloned().collect();
    filters.sort_by_key(|f| (f.prio, f.handle));
    filters
}

/// Every action of a member's fan-out, in the order frames meet them.
pub(super) fn fanout_actions(filters: &[Filter]) -> Vec<HubAction> {
    filters.iter().flat_map(Filter::hub_actions).collect()
}
