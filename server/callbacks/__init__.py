"""What WeChat sends us: WeChat Pay's notifications, every kind through one path
(``notify.py``), and the mini program's message push (``push.py``)."""
