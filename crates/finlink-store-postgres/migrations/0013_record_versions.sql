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
-- these indexes hold exactly the ordering keys `finlink_store::records::order_by` generates
-- (JSON type rank, numeric value, text in code point order), then the tie-break of every
-- ordering (record id, connection id), so a page needs no sort of the whole data type. The
-- range indexes of 0011 stay for filters.
CREATE INDEX data_records_invoices_order_issue_date ON data_records(
    company_id,
    (CASE jsonb_typeof((doc -> 'issueDate')) WHEN 'number' THEN 1 WHEN 'boolean' THEN 1 WHEN 'string' THEN 2 WHEN 'object' THEN 2 WHEN 'array' THEN 2 ELSE 0 END),
    (CASE jsonb_typeof((doc -> 'issueDate')) WHEN 'number' THEN ((doc -> 'issueDate'))::numeric WHEN 'boolean' THEN (CASE WHEN (doc -> 'issueDate') = 'true'::jsonb THEN 1 ELSE 0 END) END),
    (CASE WHEN jsonb_typeof((doc -> 'issueDate')) IN ('string', 'object', 'array') THEN (doc ->> 'issueDate') END) COLLATE "C",
    record_id, connection_id)
    WHERE data_type = 'invoices';
CREATE INDEX data_records_invoices_order_amount_due ON data_records(
    company_id,
    (CASE jsonb_typeof((doc -> 'amountDue')) WHEN 'number' THEN 1 WHEN 'boolean' THEN 1 WHEN 'string' THEN 2 WHEN 'object' THEN 2 WHEN 'array' THEN 2 ELSE 0 END),
    (CASE jsonb_typeof((doc -> 'amountDue')) WHEN 'number' THEN ((doc -> 'amountDue'))::numeric WHEN 'boolean' THEN (CASE WHEN (doc -> 'amountDue') = 'true'::jsonb THEN 1 ELSE 0 END) END),
    (CASE WHEN jsonb_typeof((doc -> 'amountDue')) IN ('string', 'object', 'array') THEN (doc ->> 'amountDue') END) COLLATE "C",
    record_id, connection_id)
    WHERE data_type = 'invoices';
