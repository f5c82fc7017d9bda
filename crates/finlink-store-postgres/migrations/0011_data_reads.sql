-- The read endpoints (`GET /companies/{id}/data/invoices` ...; finlink_store::records): stored
-- records filtered (`query=`) and ordered (`orderBy=`) over fields of their JSON, paged by
-- record id by default.
--
-- `doc` is the record parsed once, when it is written: casting the `data` text to jsonb in a
-- query parses every row it looks at, about six times slower than reading a stored jsonb
-- (measured: a filter over 200k invoices, 0.8 s against 0.14 s). `data` stays the text served
-- (its field order is the model's; jsonb would reorder the fields).
ALTER TABLE data_records ADD COLUMN doc jsonb GENERATED ALWAYS AS (data::jsonb) STORED;

-- Reads go by company, data type and record id, then connection id (the tie-break of every
-- ordering), so a page in the default order is read in index order with no sort; this index
-- replaces `data_records_read` (its prefix serves the same lookups).
CREATE INDEX data_records_by_company ON data_records(company_id, data_type, record_id, connection_id);
DROP INDEX data_records_read;

-- Invoices, the largest data type, get expression indexes for the filters Codat documents
-- (`status=Paid`, `customerRef.id=...`, `issueDate>2023-01-31`, `amountDue>0`). They are
-- partial (`WHERE data_type = 'invoices'`): other types' writes pay nothing for them. The
-- expressions are exactly those `finlink_store::records` generates: text equality ignores case
-- (`lower`), dates compare as text in code point order (`COLLATE "C"`), numbers as jsonb.
-- Equality indexes end with the record id, so a filtered page in the default order needs no sort.
CREATE INDEX data_records_invoices_status ON data_records(
    company_id, (lower((doc ->> 'status'))), record_id, connection_id)
    WHERE data_type = 'invoices';
CREATE INDEX data_records_invoices_customer ON data_records(
    company_id, (lower((doc -> 'customerRef' ->> 'id'))), record_id, connection_id)
    WHERE data_type = 'invoices';
CREATE INDEX data_records_invoices_issue_date ON data_records(
    company_id, ((doc ->> 'issueDate') COLLATE "C"))
    WHERE data_type = 'invoices';
CREATE INDEX data_records_invoices_amount_due ON data_records(
    company_id, ((doc -> 'amountDue')))
    WHERE data_type = 'invoices';
