-- The read endpoints (`GET /companies/{id}/data/invoices` ...; finlink_store::records): stored
-- records filtered (`query=`) and ordered (`orderBy=`) over fields of their JSON, paged by
-- record id by default.
--
-- Reads go by company, data type and record id, then connection id (the tie-break of every
-- ordering), so a page in the default order is read in index order with no sort; this index
-- replaces `data_records_read` (its prefix serves the same lookups).
CREATE INDEX data_records_by_company ON data_records(company_id, data_type, record_id, connection_id);
DROP INDEX data_records_read;

-- Invoices, the largest data type, get expression indexes for the filters Codat documents
-- (`status=Paid`, `customerRef.id=...`, `issueDate>2023-01-31`, `amountDue>0`). They are
-- partial (`WHERE data_type = 'invoices'`): other types' writes pay nothing for them. The
-- expressions are exactly those `finlink_store::records` generates (text equality ignores
-- case: COLLATE NOCASE), and counts with such a filter are answered from the index alone.
-- Equality indexes end with the record id, so a filtered page in the default order needs no sort.
CREATE INDEX data_records_invoices_status ON data_records(
    company_id, json_extract(data, '$.status') COLLATE NOCASE, record_id, connection_id)
    WHERE data_type = 'invoices';
CREATE INDEX data_records_invoices_customer ON data_records(
    company_id, json_extract(data, '$.customerRef.id') COLLATE NOCASE, record_id, connection_id)
    WHERE data_type = 'invoices';
CREATE INDEX data_records_invoices_issue_date ON data_records(
    company_id, json_extract(data, '$.issueDate'))
    WHERE data_type = 'invoices';
CREATE INDEX data_records_invoices_amount_due ON data_records(
    company_id, json_extract(data, '$.amountDue'))
    WHERE data_type = 'invoices';
