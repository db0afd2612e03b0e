-- The metadata server also hosts the hub's ledger (its own database and role).
CREATE ROLE hrss LOGIN PASSWORD 'hrss';
CREATE DATABASE hrss_ledger OWNER hrss;
