//! Page-based paging as Codat does it: 1-based `page`, `pageSize` up to 5000.

use crate::{Error, Result};

pub const DEFAULT_PAGE_SIZE: u32 = 100;
pub const MAX_PAGE_SIZE: u32 = 5000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageRequest {
    pub page: u32,
    pub page_size: u32,
}

impl Default for PageRequest {
    fn default() -> Self {
        Self {
            page: 1,
            page_size: DEFAULT_PAGE_SIZE,
        }
    }
}

impl PageRequest {
    pub fn new(page: Option<i64>, page_size: Option<i64>) -> Result<Self> {
        let page = page.unwrap_or(1);
        let page_size = page_size.unwrap_or(i64::from(DEFAULT_PAGE_SIZE));
        if page < 1 || page > i64::from(u32::MAX) {
            return Err(Error::invalid(
                "page",
                "Paging",
                "page must be a whole number of at least 1.",
            ));
        }
        if page_size < 1 || page_size > i64::from(MAX_PAGE_SIZE) {
            return Err(Error::invalid(
                "pageSize",
                "Paging",
                format!("pageSize must be between 1 and {MAX_PAGE_SIZE}."),
            ));
        }
        Ok(Self {
            page: page as u32,
            page_size: page_size as u32,
        })
    }

    pub fn offset(&self) -> u64 {
        u64::from(self.page - 1) * u64::from(self.page_size)
    }

    pub fn limit(&self) -> u64 {
        u64::from(self.page_size)
    }
}

/// One page of results and the total count after filtering.
#[derive(Clone, Debug, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: u64,
    pub request: PageRequest,
}

impl<T> Page<T> {
    pub fn has_next(&self) -> bool {
        self.request.offset() + (self.items.len() as u64) < self.total
    }

    pub fn has_previous(&self) -> bool {
        self.request.page > 1
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            total: self.total,
            request: self.request,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds() {
        assert!(PageRequest::new(Some(0), None).is_err());
        assert!(PageRequest::new(None, Some(5001)).is_err());
        assert!(PageRequest::new(None, Some(0)).is_err());
        let p = PageRequest::new(Some(3), Some(10)).unwrap();
        assert_eq!(p.offset(), 20);
    }
}
