"""Exchanges: staging and publishing validated entity data as Parquet with manifests."""
