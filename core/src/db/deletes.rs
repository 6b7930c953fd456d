//! Delete requests: logged in the manifest, published to the read view in one step.

use std::sync::Arc;

use super::Inner;
use crate::delete::{CompiledDelete, DeleteRequest, DeleteStatus};
use crate::error::{Error, Result};
use crate::labels::validate_tenant;
use crate::manifest::{DeleteRecord, Manifest};

impl Inner {
    pub(super) fn delete(
        &self,
        tenant: &str,
        query: &str,
        start: i64,
        end: i64,
    ) -> Result<DeleteRequest> {
        validate_tenant(tenant)?;
        if start > end {
            return Err(Error::InvalidArgument(format!(
                "delete: start {start} is after end {end}"
            )));
        }
        self.check_open()?;
        let mut ms = self.manifest.lock();
        let mut m = ms.manifest.clone();
        let request = DeleteRequest {
            id: m.next_delete_id.max(1),
            tenant: tenant.to_owned(),
            query: query.to_owned(),
            start,
            end,
            created: crate::retention::now_ns(),
            status: DeleteStatus::Pending,
        };
        let compiled = Arc::new(CompiledDelete::new(&request)?);
        m.next_delete_id = request.id + 1;
        m.deletes.push(DeleteRecord {
            request: request.clone(),
            partially_applied: false,
        });
        m.generation += 1;
        m.write(&self.dir)?;
        ms.manifest = m;
        let mut view = self.view.write();
        let tv = view.tenants.entry(tenant.to_owned()).or_default();
        Arc::make_mut(&mut tv.deletes).push(compiled);
        Ok(request)
    }

    pub(super) fn delete_requests(&self, tenant: &str) -> Result<Vec<DeleteRequest>> {
        validate_tenant(tenant)?;
        let ms = self.manifest.lock();
        Ok(ms
            .manifest
            .deletes
            .iter()
            .filter(|d| d.request.tenant == tenant)
            .map(|d| d.request.clone())
            .collect())
    }

    pub(super) fn cancel_delete(&self, tenant: &str, id: u64) -> Result<()> {
        validate_tenant(tenant)?;
        self.check_open()?;
        let mut ms = self.manifest.lock();
        let Some(d) = ms
            .manifest
            .deletes
            .iter()
            .find(|d| d.request.id == id && d.request.tenant == tenant)
        else {
            return Err(Error::InvalidArgument(format!(
                "no delete request {id} for tenant {tenant:?}"
            )));
        };
        match d.request.status {
            DeleteStatus::Applied => {
                return Err(Error::InvalidArgument(format!(
                    "delete request {id} was already applied"
                )))
            }
            DeleteStatus::Cancelled => {
                return Err(Error::InvalidArgument(format!(
                    "delete request {id} was already cancelled"
                )))
            }
            DeleteStatus::Pending if d.partially_applied || ms.applying.contains(&id) => {
                return Err(Error::InvalidArgument(format!(
                    "delete request {id} is being applied by compaction"
                )))
            }
            DeleteStatus::Pending => {}
        }
        let mut m: Manifest = ms.manifest.clone();
        for d in &mut m.deletes {
            if d.request.id == id {
                d.request.status = DeleteStatus::Cancelled;
            }
        }
        m.generation += 1;
        m.write(&self.dir)?;
        ms.manifest = m;
        let mut view = self.view.write();
        if let Some(tv) = view.tenants.get_mut(tenant) {
            Arc::make_mut(&mut tv.deletes).retain(|d| d.id != id);
        }
        Ok(())
    }

    /// `Error::Closed` once the database was poisoned or closed.
    pub(super) fn check_open(&self) -> Result<()> {
        match &self.writer.lock().closed {
            Some(reason) => Err(Error::Closed(reason.clone())),
            None => Ok(()),
        }
    }
}
