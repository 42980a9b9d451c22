ALTER TABLE employers DROP COLUMN iban;
DROP TABLE employments;
