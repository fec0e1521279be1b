"""OpenNSG: Azure Network Security Groups, exactly, outside Azure."""

__version__ = "0.1.0"
