-- Events stored before 0006 name no contact: read it from the payload, so erasing a contact redacts them too.
UPDATE `events` SET `contact_id` = coalesce(json_extract(`payload`, '$.data.lead.contact_id'), json_extract(`payload`, '$.data.deal.contact_id'))
WHERE `contact_id` IS NULL AND `type` IN ('lead.created', 'lead.converted', 'deal.closed');
