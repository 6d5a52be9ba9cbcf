from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('core', '0004_event_types_bot'),
    ]

    operations = [
        migrations.CreateModel(
            name='OutboxRateBucket',
            fields=[
                ('key', models.CharField(max_length=191, primary_key=True, serialize=False)),
                ('tat', models.FloatField(default=0)),
            ],
        ),
        migrations.AddField(
            model_name='outboxmessage',
            name='held',
            field=models.BooleanField(default=False),
        ),
        migrations.AddIndex(
            model_name='outboxmessage',
            index=models.Index(condition=models.Q(('held', True)), fields=['workspace', 'channel', 'target', 'id'], name='outbox_held'),
        ),
        migrations.AddIndex(
            model_name='outboxmessage',
            index=models.Index(fields=['workspace', 'status', 'id'], name='outbox_ws_status'),
        ),
    ]
