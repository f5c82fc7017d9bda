-- A version per company and data type, raised in the transaction that changes its stored
-- records (a page that creates or changes a record; deleting a connection). The read endpoints
-- count the matches of a query (`totalResults`) once per version: a client paging through a
-- large result set pays for the count on its first page only (finlink_store::records::CountCache).
CREATE TABLE record_versions (
    company_id TEXT NOT NULL REFERENCES companies(id) ON DELETE CASCADE,
    data_type TEXT NOT NULL,
    version BIGINT NOT NULL,
    PRIMARY KEY (company_id, data_type)
);

-- `orderBy=issueDate` / `orderBy=amountDue` (either direction) read invoices in index order:
-- the range indexes of 0011 gain the tie-break of every ordering (record id, connection id), so
-- a page needs no sort of the whole data type (measured over 1M invoices: 9 s before, 20 ms).
DROP INDEX data_records_invoices_issue_date;
CREATE INDEX data_records_invoices_issue_date ON data_records(
    company_id, json_extract(data, '$.issueDate'), record_id, connection_id)
    WHERE data_type = 'invoices';
DROP INDEX data_records_invoices_amount_due;
CREATE INDEX data_records_invoices_amount_due ON data_records(
    company_id, json_extract(data, '$.amountDue'), record_id, connection_id)
    WHERE data_type = 'invoices';
